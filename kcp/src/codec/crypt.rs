//! Every kcptun `--crypt` cipher, applied to a whole datagram in place.
//!
//! Block ciphers run in standard CFB mode (full-block feedback) with kcp-go's fixed IV, restarted for every
//! datagram; `salsa20` keystreams bytes 8.. with bytes 0..8 as nonce; `xor` applies a fixed pad; `none` leaves
//! the bytes alone. See `shared/spec/kcp-go-packet.md` section 4.

use std::fmt;

use blowfish::Blowfish;
use cast5::Cast5;
use cipher::{BlockCipherEncrypt, KeyInit};
use des::TdesEde3;
use sm4::Sm4;

use super::aesni::Aes;
use super::kdf::{XOR_PAD_LEN, xor_pad};
use super::tea::{Tea16, XteaBe};
use super::twofish::Twofish256;

/// kcp-go's fixed CFB IV (8-byte-block ciphers use its first 8 bytes).
pub const FIXED_IV: [u8; 16] = [
    0xa7, 0x73, 0x4f, 0x9c, 0x12, 0xac, 0x1b, 0x01, 0xa4, 0x15, 0xf2, 0xc1, 0xfc, 0x78, 0xe6, 0x6b,
];

/// The cipher selected by kcptun's `--crypt`, plus [`CryptKind::Null`] for kcp-go's nil cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptKind {
    /// No crypto header at all (kcp-go with a nil `BlockCrypt`; kcptun never does this).
    Null,
    /// Pass-through cipher: the 20-byte nonce + CRC header is still present (kcptun `none`).
    None,
    /// AES-128-CFB, key bytes 0..16 (`aes-128`).
    Aes128,
    /// AES-192-CFB, key bytes 0..24 (`aes-192`).
    Aes192,
    /// AES-256-CFB, all 32 key bytes (`aes`, kcptun's default and fallback).
    Aes256,
    /// Salsa20/20 with the datagram's first 8 bytes as nonce.
    Salsa20,
    /// Blowfish-CFB with the 32-byte key.
    Blowfish,
    /// Twofish-256-CFB.
    Twofish,
    /// CAST5-CFB, key bytes 0..16.
    Cast5,
    /// 3DES-EDE3-CFB, key bytes 0..24.
    TripleDes,
    /// kcp-go's 16-round TEA in CFB, key bytes 0..16.
    Tea,
    /// XTEA-CFB (64 rounds), key bytes 0..16.
    Xtea,
    /// XOR with a 1500-byte PBKDF2 pad.
    Xor,
    /// SM4-CFB, key bytes 0..16.
    Sm4,
}

impl CryptKind {
    /// Every kind, in kcptun's order plus `Null` first; handy for tests and fuzzing.
    pub const ALL: [CryptKind; 14] = [
        CryptKind::Null,
        CryptKind::None,
        CryptKind::Aes128,
        CryptKind::Aes192,
        CryptKind::Aes256,
        CryptKind::Salsa20,
        CryptKind::Blowfish,
        CryptKind::Twofish,
        CryptKind::Cast5,
        CryptKind::TripleDes,
        CryptKind::Tea,
        CryptKind::Xtea,
        CryptKind::Xor,
        CryptKind::Sm4,
    ];

    /// Maps a kcptun `--crypt` name to its cipher. Like kcptun, any unknown name means AES-256; `null` is
    /// accepted as the kcp-go nil cipher.
    ///
    /// ```
    /// use kcp::codec::CryptKind;
    /// assert_eq!(CryptKind::from_kcptun_name("3des"), CryptKind::TripleDes);
    /// assert_eq!(CryptKind::from_kcptun_name("whatever"), CryptKind::Aes256);
    /// ```
    pub fn from_kcptun_name(name: &str) -> CryptKind {
        match name {
            "null" => CryptKind::Null,
            "none" => CryptKind::None,
            "aes-128" => CryptKind::Aes128,
            "aes-192" => CryptKind::Aes192,
            "salsa20" => CryptKind::Salsa20,
            "blowfish" => CryptKind::Blowfish,
            "twofish" => CryptKind::Twofish,
            "cast5" => CryptKind::Cast5,
            "3des" => CryptKind::TripleDes,
            "tea" => CryptKind::Tea,
            "xtea" => CryptKind::Xtea,
            "xor" => CryptKind::Xor,
            "sm4" => CryptKind::Sm4,
            _ => CryptKind::Aes256,
        }
    }

    /// The kcptun `--crypt` name (`null` for [`CryptKind::Null`]).
    pub fn kcptun_name(self) -> &'static str {
        match self {
            CryptKind::Null => "null",
            CryptKind::None => "none",
            CryptKind::Aes128 => "aes-128",
            CryptKind::Aes192 => "aes-192",
            CryptKind::Aes256 => "aes",
            CryptKind::Salsa20 => "salsa20",
            CryptKind::Blowfish => "blowfish",
            CryptKind::Twofish => "twofish",
            CryptKind::Cast5 => "cast5",
            CryptKind::TripleDes => "3des",
            CryptKind::Tea => "tea",
            CryptKind::Xtea => "xtea",
            CryptKind::Xor => "xor",
            CryptKind::Sm4 => "sm4",
        }
    }

    /// How many leading bytes of the 32-byte kcptun key this cipher is given (kcptun slices the key).
    pub fn key_len(self) -> usize {
        match self {
            CryptKind::Aes128
            | CryptKind::Cast5
            | CryptKind::Tea
            | CryptKind::Xtea
            | CryptKind::Sm4 => 16,
            CryptKind::Aes192 | CryptKind::TripleDes => 24,
            _ => 32,
        }
    }
}

/// A keyed cipher that encrypts/decrypts whole datagrams in place (kcp-go's `BlockCrypt`).
#[derive(Clone)]
pub struct BlockCrypt {
    engine: Engine,
}

#[derive(Clone)]
enum Engine {
    None,
    Aes128(Aes<aes08::Aes128>),
    Aes192(Aes<aes08::Aes192>),
    Aes256(Aes<aes08::Aes256>),
    Salsa20([u8; 32]),
    Blowfish(Box<Blowfish>),
    Twofish(Twofish256),
    Cast5(Box<Cast5>),
    TripleDes(TdesEde3),
    Tea(Tea16),
    Xtea(XteaBe),
    Xor(Box<[u8; XOR_PAD_LEN]>),
    Sm4(Sm4),
}

impl fmt::Debug for BlockCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCrypt")
            .field("kind", &self.kind().kcptun_name())
            .finish()
    }
}

/// CFB over the whole datagram, inside the cipher's backend (see [`super::cfb`]). The cipher is borrowed,
/// not cloned: key schedules are set up once per codec.
fn cfb_encrypt<C: BlockCipherEncrypt>(cipher: &C, buf: &mut [u8]) {
    super::cfb::encrypt(cipher, buf);
}

/// CFB decryption through the backend's parallel path, in place (see [`super::cfb`]).
fn cfb_decrypt<C: BlockCipherEncrypt>(cipher: &C, buf: &mut [u8]) {
    super::cfb::decrypt(cipher, buf);
}

fn cfb_encrypt_many<'a, C: BlockCipherEncrypt>(
    cipher: &C,
    bufs: impl Iterator<Item = &'a mut [u8]>,
) {
    super::cfb::encrypt_many(cipher, bufs);
}

fn salsa20_apply(key: &[u8; 32], buf: &mut [u8]) {
    if buf.len() <= 8 {
        return;
    }
    let (nonce, rest) = buf.split_at_mut(8);
    let mut nonce8 = [0u8; 8];
    nonce8.copy_from_slice(nonce);
    super::salsa::apply_keystream(key, &nonce8, rest);
}

fn xor_apply(pad: &[u8; XOR_PAD_LEN], buf: &mut [u8]) {
    for (b, p) in buf.iter_mut().zip(pad.iter()) {
        *b ^= p;
    }
}

impl BlockCrypt {
    /// Builds the cipher for `kind` from the 32-byte kcptun key, taking the leading [`CryptKind::key_len`]
    /// bytes as kcptun does. Returns `None` for [`CryptKind::Null`] (no cipher, no crypto header).
    pub fn new(kind: CryptKind, key: &[u8; 32]) -> Option<BlockCrypt> {
        let k16: &[u8; 16] = key[..16].try_into().ok()?;
        let engine = match kind {
            CryptKind::Null => return None,
            CryptKind::None => Engine::None,
            CryptKind::Aes128 => Engine::Aes128(Aes::new(&key[..16])?),
            CryptKind::Aes192 => Engine::Aes192(Aes::new(&key[..24])?),
            CryptKind::Aes256 => Engine::Aes256(Aes::new(key)?),
            CryptKind::Salsa20 => Engine::Salsa20(*key),
            CryptKind::Blowfish => Engine::Blowfish(Box::new(Blowfish::new_from_slice(key).ok()?)),
            CryptKind::Twofish => Engine::Twofish(Twofish256::new(key)),
            CryptKind::Cast5 => Engine::Cast5(Box::new(Cast5::new_from_slice(k16).ok()?)),
            CryptKind::TripleDes => Engine::TripleDes(TdesEde3::new_from_slice(&key[..24]).ok()?),
            CryptKind::Tea => Engine::Tea(Tea16::new(k16)),
            CryptKind::Xtea => Engine::Xtea(XteaBe::new(k16)),
            CryptKind::Xor => Engine::Xor(xor_pad(key)),
            CryptKind::Sm4 => Engine::Sm4(Sm4::new_from_slice(k16).ok()?),
        };
        Some(BlockCrypt { engine })
    }

    /// Which cipher this is.
    pub fn kind(&self) -> CryptKind {
        match &self.engine {
            Engine::None => CryptKind::None,
            Engine::Aes128(_) => CryptKind::Aes128,
            Engine::Aes192(_) => CryptKind::Aes192,
            Engine::Aes256(_) => CryptKind::Aes256,
            Engine::Salsa20(_) => CryptKind::Salsa20,
            Engine::Blowfish(_) => CryptKind::Blowfish,
            Engine::Twofish(_) => CryptKind::Twofish,
            Engine::Cast5(_) => CryptKind::Cast5,
            Engine::TripleDes(_) => CryptKind::TripleDes,
            Engine::Tea(_) => CryptKind::Tea,
            Engine::Xtea(_) => CryptKind::Xtea,
            Engine::Xor(_) => CryptKind::Xor,
            Engine::Sm4(_) => CryptKind::Sm4,
        }
    }

    /// Encrypts a whole datagram in place (kcp-go `Encrypt(buf, buf)`).
    pub fn encrypt(&self, buf: &mut [u8]) {
        match &self.engine {
            Engine::None => {}
            Engine::Aes128(c) => cfb_encrypt(c, buf),
            Engine::Aes192(c) => cfb_encrypt(c, buf),
            Engine::Aes256(c) => cfb_encrypt(c, buf),
            Engine::Salsa20(k) => salsa20_apply(k, buf),
            Engine::Blowfish(c) => cfb_encrypt(&**c, buf),
            Engine::Twofish(c) => cfb_encrypt(c, buf),
            Engine::Cast5(c) => cfb_encrypt(&**c, buf),
            Engine::TripleDes(c) => cfb_encrypt(c, buf),
            Engine::Tea(c) => cfb_encrypt(c, buf),
            Engine::Xtea(c) => cfb_encrypt(c, buf),
            Engine::Xor(p) => xor_apply(p, buf),
            Engine::Sm4(c) => cfb_encrypt(c, buf),
        }
    }

    /// Encrypts several datagrams in place, each exactly as [`BlockCrypt::encrypt`] would (each is its own CFB
    /// chain from the fixed IV), but with the chains interleaved: CFB encryption of one datagram is a serial
    /// chain bound by cipher latency, while blocks of different datagrams go through the AES units together.
    /// Allocation-free; datagrams may differ in length (empty ones are left alone).
    ///
    /// ```
    /// use kcp::codec::{BlockCrypt, CryptKind, derive_key};
    /// let c = BlockCrypt::new(CryptKind::Aes256, &derive_key("pw")).unwrap();
    /// let (mut a, mut b) = (vec![1u8; 1350], vec![2u8; 700]);
    /// let (mut a1, mut b1) = (a.clone(), b.clone());
    /// c.encrypt_many([&mut a[..], &mut b[..]].into_iter());
    /// c.encrypt(&mut a1);
    /// c.encrypt(&mut b1);
    /// assert_eq!((a, b), (a1, b1));
    /// ```
    pub fn encrypt_many<'a>(&self, bufs: impl Iterator<Item = &'a mut [u8]>) {
        match &self.engine {
            Engine::None => {}
            Engine::Aes128(c) => cfb_encrypt_many(c, bufs),
            Engine::Aes192(c) => cfb_encrypt_many(c, bufs),
            Engine::Aes256(c) => cfb_encrypt_many(c, bufs),
            Engine::Sm4(c) => cfb_encrypt_many(c, bufs),
            // Ciphers without a parallel backend gain nothing from interleaving.
            _ => bufs.for_each(|b| self.encrypt(b)),
        }
    }

    /// Decrypts a whole datagram in place (kcp-go `Decrypt(buf, buf)`).
    pub fn decrypt(&self, buf: &mut [u8]) {
        match &self.engine {
            Engine::None => {}
            Engine::Aes128(c) => cfb_decrypt(c, buf),
            Engine::Aes192(c) => cfb_decrypt(c, buf),
            Engine::Aes256(c) => cfb_decrypt(c, buf),
            Engine::Salsa20(k) => salsa20_apply(k, buf),
            Engine::Blowfish(c) => cfb_decrypt(&**c, buf),
            Engine::Twofish(c) => cfb_decrypt(c, buf),
            Engine::Cast5(c) => cfb_decrypt(&**c, buf),
            Engine::TripleDes(c) => cfb_decrypt(c, buf),
            Engine::Tea(c) => cfb_decrypt(c, buf),
            Engine::Xtea(c) => cfb_decrypt(c, buf),
            Engine::Xor(p) => xor_apply(p, buf),
            Engine::Sm4(c) => cfb_decrypt(c, buf),
        }
    }
}

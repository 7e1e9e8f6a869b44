//! TEA with 16 rounds and XTEA, both with big-endian words, as golang.org/x/crypto uses them in kcp-go.
//!
//! Written by hand because no maintained crate offers kcp-go's 16-round TEA variant, and the `xtea` crate
//! reads words little-endian (Go's reads them big-endian). Both plug into our CFB (`super::cfb`) through the
//! `cipher` block traits; only the encrypt direction exists because CFB never needs the inverse.

use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut,
    ParBlocksSizeUser,
    consts::{U1, U8},
};

const DELTA: u32 = 0x9E37_79B9;

fn be_words(key: &[u8; 16]) -> [u32; 4] {
    let w = |i: usize| u32::from_be_bytes([key[i], key[i + 1], key[i + 2], key[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

fn load(block: &[u8]) -> (u32, u32) {
    (
        u32::from_be_bytes([block[0], block[1], block[2], block[3]]),
        u32::from_be_bytes([block[4], block[5], block[6], block[7]]),
    )
}

fn store(block: &mut [u8], v0: u32, v1: u32) {
    block[..4].copy_from_slice(&v0.to_be_bytes());
    block[4..8].copy_from_slice(&v1.to_be_bytes());
}

/// TEA with 16 rounds (8 cycles), the variant kcp-go's `NewTEABlockCrypt` builds.
#[derive(Clone)]
pub struct Tea16 {
    k: [u32; 4],
}

impl Tea16 {
    /// Key schedule from a 16-byte key (big-endian words).
    pub fn new(key: &[u8; 16]) -> Self {
        Self { k: be_words(key) }
    }
}

/// XTEA with the standard 64 rounds (32 cycles), big-endian words.
#[derive(Clone)]
pub struct XteaBe {
    /// Round keys precomputed per half-round, as the schedule only depends on the key.
    rk: [u32; 64],
}

impl XteaBe {
    /// Key schedule from a 16-byte key (big-endian words).
    pub fn new(key: &[u8; 16]) -> Self {
        let k = be_words(key);
        let mut rk = [0u32; 64];
        let mut sum = 0u32;
        for i in 0..32 {
            rk[2 * i] = sum.wrapping_add(k[(sum & 3) as usize]);
            sum = sum.wrapping_add(DELTA);
            rk[2 * i + 1] = sum.wrapping_add(k[((sum >> 11) & 3) as usize]);
        }
        Self { rk }
    }
}

macro_rules! block_cipher_enc_only {
    ($ty:ty, $fn:ident) => {
        impl BlockSizeUser for $ty {
            type BlockSize = U8;
        }
        impl ParBlocksSizeUser for $ty {
            type ParBlocksSize = U1;
        }
        impl BlockCipherEncrypt for $ty {
            #[inline]
            fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U8>) {
                f.call(self)
            }
        }
        impl BlockCipherEncBackend for $ty {
            #[inline]
            fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
                let (v0, v1) = load(block.get_in());
                let (v0, v1) = self.$fn(v0, v1);
                store(block.get_out(), v0, v1);
            }
        }
    };
}

impl Tea16 {
    #[inline]
    fn rounds(&self, mut v0: u32, mut v1: u32) -> (u32, u32) {
        let [k0, k1, k2, k3] = self.k;
        let mut sum = 0u32;
        for _ in 0..8 {
            sum = sum.wrapping_add(DELTA);
            v0 = v0.wrapping_add(
                ((v1 << 4).wrapping_add(k0)) ^ v1.wrapping_add(sum) ^ ((v1 >> 5).wrapping_add(k1)),
            );
            v1 = v1.wrapping_add(
                ((v0 << 4).wrapping_add(k2)) ^ v0.wrapping_add(sum) ^ ((v0 >> 5).wrapping_add(k3)),
            );
        }
        (v0, v1)
    }
}

impl XteaBe {
    #[inline]
    fn rounds(&self, mut v0: u32, mut v1: u32) -> (u32, u32) {
        for pair in self.rk.chunks_exact(2) {
            v0 = v0.wrapping_add((((v1 << 4) ^ (v1 >> 5)).wrapping_add(v1)) ^ pair[0]);
            v1 = v1.wrapping_add((((v0 << 4) ^ (v0 >> 5)).wrapping_add(v0)) ^ pair[1]);
        }
        (v0, v1)
    }
}

block_cipher_enc_only!(Tea16, rounds);
block_cipher_enc_only!(XteaBe, rounds);

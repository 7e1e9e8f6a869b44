//! Key derivation exactly as kcptun does it, and the pad of kcp-go's `xor` cipher.

use sha1::Sha1;

/// Salt kcptun uses to turn `--key` into the 32-byte key.
pub const KCPTUN_SALT: &[u8] = b"kcp-go";
/// PBKDF2 iterations kcptun uses for `--key`.
pub const KCPTUN_ITERATIONS: u32 = 4096;
/// Salt of the `xor` cipher's pad.
pub const XOR_SALT: &[u8] = b"sH3CIVoF#rWLtJo6";
/// PBKDF2 iterations of the `xor` cipher's pad.
pub const XOR_ITERATIONS: u32 = 32;
/// Length of the `xor` pad: kcp-go's largest datagram (`mtuLimit`).
pub const XOR_PAD_LEN: usize = 1500;

/// Derives the 32-byte kcptun key from a `--key` password:
/// PBKDF2-HMAC-SHA1(password, "kcp-go", 4096, 32).
///
/// ```
/// let key = kcp::codec::derive_key("it's a secrect");
/// assert_eq!(key[..4], [0x25, 0xd7, 0xd7, 0xbd]);
/// ```
pub fn derive_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha1>(
        password.as_bytes(),
        KCPTUN_SALT,
        KCPTUN_ITERATIONS,
        &mut key,
    );
    key
}

/// The 1500-byte pad of kcp-go's `xor` cipher:
/// PBKDF2-HMAC-SHA1(key, "sH3CIVoF#rWLtJo6", 32, 1500).
pub fn xor_pad(key: &[u8]) -> Box<[u8; XOR_PAD_LEN]> {
    let mut pad = Box::new([0u8; XOR_PAD_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha1>(key, XOR_SALT, XOR_ITERATIONS, &mut pad[..]);
    pad
}

//! Fast, non-repeating 16-byte nonces for the crypto header.

// The 0.8 line: one block per call, and no per-call key set-up (see `super::aesni`).
use aes08::Aes128;
use cipher04::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use rand::RngCore;

/// Nonce source: AES-128 of a 128-bit counter under a random key.
///
/// Distinct counters give distinct outputs (AES is a permutation), so nonces never repeat within a source's
/// lifetime, and without the key they are unpredictable. One AES block per datagram costs a few nanoseconds
/// with AES-NI. The receiver never looks at the nonce; it only randomises the first cipher block.
#[derive(Clone)]
pub struct NonceSource {
    aes: Aes128,
    counter: u128,
}

impl std::fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceSource")
    }
}

impl NonceSource {
    /// A source keyed and started from the operating system's random generator.
    pub fn new() -> NonceSource {
        let mut rng = rand::rng();
        let mut key = [0u8; 16];
        rng.fill_bytes(&mut key);
        let counter = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        NonceSource {
            aes: Aes128::new(&GenericArray::from(key)),
            counter,
        }
    }

    /// A source with a given key and counter: reproducible nonces, for tests comparing two encoders only.
    #[doc(hidden)]
    pub fn from_parts(key: [u8; 16], counter: u128) -> NonceSource {
        NonceSource {
            aes: Aes128::new(&GenericArray::from(key)),
            counter,
        }
    }

    /// Writes the next nonce into `out`.
    #[inline]
    pub fn fill(&mut self, out: &mut [u8; 16]) {
        self.counter = self.counter.wrapping_add(1);
        let mut block = GenericArray::from(self.counter.to_le_bytes());
        self.aes.encrypt_block(&mut block);
        out.copy_from_slice(&block);
    }
}

impl Default for NonceSource {
    fn default() -> Self {
        NonceSource::new()
    }
}

//! Salsa20/20 keystream, four blocks at a time, for kcp-go's `salsa20` cipher.
//!
//! The `salsa20` crate (RustCrypto) computes one 64-byte block at a time with scalar code, which is slower
//! than kcp-go's assembly. Here the sixteen state words are held as four-lane vectors (`wide::u32x4`, one lane
//! per block; SSE2 on any x86_64, NEON on aarch64) so each double round advances four blocks; same algorithm
//! (Bernstein's Salsa20/20 with a 64-bit nonce and block counter), written in safe Rust. It is checked
//! byte for byte against the `salsa20` crate (differential test below) and kcp-go's vectors.

use wide::u32x4;

const LANES: usize = 4;
type V = u32x4;

const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

#[inline(always)]
fn xor_rotl(x: V, s: V, r: u32) -> V {
    x ^ ((s << r) | (s >> (32 - r)))
}

#[inline(always)]
fn quarter(x: &mut [V; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] = xor_rotl(x[b], x[a] + x[d], 7);
    x[c] = xor_rotl(x[c], x[b] + x[a], 9);
    x[d] = xor_rotl(x[d], x[c] + x[b], 13);
    x[a] = xor_rotl(x[a], x[d] + x[c], 18);
}

/// Keystream of blocks `counter .. counter + 4` into `out` (256 bytes).
#[inline(always)]
fn blocks4(key: &[u32; 8], nonce: [u32; 2], counter: u64, out: &mut [u8; 64 * LANES]) {
    let splat = V::splat;
    let ctr: [u64; LANES] = std::array::from_fn(|i| counter.wrapping_add(i as u64));
    let input: [V; 16] = [
        splat(SIGMA[0]),
        splat(key[0]),
        splat(key[1]),
        splat(key[2]),
        splat(key[3]),
        splat(SIGMA[1]),
        splat(nonce[0]),
        splat(nonce[1]),
        V::new(ctr.map(|c| c as u32)),
        V::new(ctr.map(|c| (c >> 32) as u32)),
        splat(SIGMA[2]),
        splat(key[4]),
        splat(key[5]),
        splat(key[6]),
        splat(key[7]),
        splat(SIGMA[3]),
    ];
    let mut x = input;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 5, 9, 13, 1);
        quarter(&mut x, 10, 14, 2, 6);
        quarter(&mut x, 15, 3, 7, 11);
        quarter(&mut x, 0, 1, 2, 3);
        quarter(&mut x, 5, 6, 7, 4);
        quarter(&mut x, 10, 11, 8, 9);
        quarter(&mut x, 15, 12, 13, 14);
    }
    for (w, (xw, iw)) in x.iter().zip(input.iter()).enumerate() {
        let sum = (*xw + *iw).to_array();
        for (lane, v) in sum.iter().enumerate() {
            let at = lane * 64 + w * 4;
            out[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// XORs `buf` with the Salsa20/20 keystream for `key` and the 8-byte `nonce`, block counter from 0.
///
/// Compiled once per listed CPU level and picked at run time (`multiversion`): with AVX-512VL the state fits
/// the 32 vector registers and rotations are single instructions; the SSE2 baseline works everywhere.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub(crate) fn apply_keystream(key: &[u8; 32], nonce: &[u8; 8], buf: &mut [u8]) {
    let k: [u32; 8] = std::array::from_fn(|i| {
        u32::from_le_bytes(key[4 * i..4 * i + 4].try_into().unwrap_or([0; 4]))
    });
    let n = [
        u32::from_le_bytes([nonce[0], nonce[1], nonce[2], nonce[3]]),
        u32::from_le_bytes([nonce[4], nonce[5], nonce[6], nonce[7]]),
    ];
    let mut ks = [0u8; 64 * LANES];
    let mut counter = 0u64;
    for chunk in buf.chunks_mut(64 * LANES) {
        blocks4(&k, n, counter, &mut ks);
        counter = counter.wrapping_add(LANES as u64);
        for (b, s) in chunk.iter_mut().zip(ks.iter()) {
            *b ^= s;
        }
    }
}

#[cfg(test)]
mod tests {
    use cipher::{KeyIvInit, StreamCipher, array::Array};

    #[test]
    fn matches_the_salsa20_crate() {
        let key: [u8; 32] = std::array::from_fn(|i| (i * 13 + 5) as u8);
        for (len, nonce) in (0..1100).step_by(7).map(|l| (l, [l as u8; 8])) {
            let plain: Vec<u8> = (0..len).map(|i| (i * 3) as u8).collect();
            let mut ours = plain.clone();
            super::apply_keystream(&key, &nonce, &mut ours);
            let mut theirs = plain.clone();
            salsa20::Salsa20::new(&Array::from(key), &Array::from(nonce))
                .apply_keystream(&mut theirs);
            assert_eq!(ours, theirs, "len {len}");
        }
    }
}

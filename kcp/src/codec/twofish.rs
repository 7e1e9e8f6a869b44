//! Twofish-256 encryption with key-dependent S-box tables, for kcp-go's `twofish` cipher.
//!
//! The `twofish` crate evaluates the key-dependent S-boxes and the MDS matrix bit by bit for every block
//! (about 14 µs per 16-byte block here: 0.7 MB/s), which would make a kcptun `--crypt twofish` session
//! unusable. The standard remedy, used by every fast Twofish, is to fold S-boxes and MDS into four
//! 256-entry tables at key setup; this module does that. Only encryption exists (CFB never needs the
//! inverse). Checked block for block against the `twofish` crate (differential test below) and by the
//! kcp-go vectors. Algorithm: Schneier et al., "Twofish: A 128-Bit Block Cipher" (1998).

use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut,
    ParBlocksSizeUser,
    consts::{U1, U16},
};

/// The 4-bit permutations t0..t3 that define q0 and q1.
const T: [[[u8; 16]; 4]; 2] = [
    [
        [
            0x8, 0x1, 0x7, 0xD, 0x6, 0xF, 0x3, 0x2, 0x0, 0xB, 0x5, 0x9, 0xE, 0xC, 0xA, 0x4,
        ],
        [
            0xE, 0xC, 0xB, 0x8, 0x1, 0x2, 0x3, 0x5, 0xF, 0x4, 0xA, 0x6, 0x7, 0x0, 0x9, 0xD,
        ],
        [
            0xB, 0xA, 0x5, 0xE, 0x6, 0xD, 0x9, 0x0, 0xC, 0x8, 0xF, 0x3, 0x2, 0x4, 0x7, 0x1,
        ],
        [
            0xD, 0x7, 0xF, 0x4, 0x1, 0x2, 0x6, 0xE, 0x9, 0xB, 0x3, 0x0, 0x8, 0x5, 0xC, 0xA,
        ],
    ],
    [
        [
            0x2, 0x8, 0xB, 0xD, 0xF, 0x7, 0x6, 0xE, 0x3, 0x1, 0x9, 0x4, 0x0, 0xA, 0xC, 0x5,
        ],
        [
            0x1, 0xE, 0x2, 0xB, 0x4, 0xC, 0x3, 0x7, 0x6, 0xD, 0xA, 0x5, 0xF, 0x9, 0x0, 0x8,
        ],
        [
            0x4, 0xC, 0x7, 0x5, 0x1, 0x6, 0x9, 0xA, 0x0, 0xE, 0xD, 0x8, 0x2, 0xB, 0x3, 0xF,
        ],
        [
            0xB, 0x9, 0x5, 0x1, 0xC, 0x3, 0xD, 0xE, 0x6, 0x4, 0x7, 0xF, 0x2, 0x0, 0x8, 0xA,
        ],
    ],
];

/// Which permutation (q0 or q1) each byte position passes through at each of the five stages of h (k = 4).
const Q_ORDER: [[usize; 5]; 4] = [
    [1, 1, 0, 0, 1],
    [0, 1, 1, 0, 0],
    [0, 0, 0, 1, 1],
    [1, 0, 1, 1, 0],
];

/// Reed-Solomon matrix turning 8 key bytes into one S-box key word (GF(2^8) modulo 0x14D).
const RS: [[u8; 8]; 4] = [
    [0x01, 0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E],
    [0xA4, 0x56, 0x82, 0xF3, 0x1E, 0xC6, 0x68, 0xE5],
    [0x02, 0xA1, 0xFC, 0xC1, 0x47, 0xAE, 0x3D, 0x19],
    [0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E, 0x03],
];

/// MDS matrix (GF(2^8) modulo 0x169), row-major: output byte r = sum over c of `MDS[r][c] * y[c]`.
const MDS: [[u8; 4]; 4] = [
    [0x01, 0xEF, 0x5B, 0x5B],
    [0x5B, 0xEF, 0xEF, 0x01],
    [0xEF, 0x5B, 0x01, 0xEF],
    [0xEF, 0x01, 0xEF, 0x5B],
];

fn gf_mul(mut a: u8, mut b: u8, poly: u16) -> u8 {
    let mut r = 0u8;
    while a != 0 {
        if a & 1 != 0 {
            r ^= b;
        }
        a >>= 1;
        let carry = b & 0x80 != 0;
        b <<= 1;
        if carry {
            b ^= (poly & 0xFF) as u8;
        }
    }
    r
}

fn q(which: usize, x: u8) -> u8 {
    let t = &T[which];
    let ror4 = |v: u8| ((v >> 1) | (v << 3)) & 0xF;
    let (a0, b0) = (x >> 4, x & 0xF);
    let (a1, b1) = (a0 ^ b0, a0 ^ ror4(b0) ^ ((a0 << 3) & 0xF));
    let (a2, b2) = (t[0][usize::from(a1)], t[1][usize::from(b1)]);
    let (a3, b3) = (a2 ^ b2, a2 ^ ror4(b2) ^ ((a2 << 3) & 0xF));
    let (a4, b4) = (t[2][usize::from(a3)], t[3][usize::from(b3)]);
    (b4 << 4) | a4
}

/// Byte `pos` of h's S-box stage: q, then for each key word in `order`, xor its byte and q again.
fn sbox_chain(pos: usize, x: u8, words: [[u8; 4]; 4]) -> u8 {
    let mut y = q(Q_ORDER[pos][0], x);
    for (stage, w) in words.iter().enumerate() {
        y = q(Q_ORDER[pos][stage + 1], y ^ w[pos]);
    }
    y
}

/// MDS column `pos` times `y`, as a little-endian word.
fn mds_column(pos: usize, y: u8) -> u32 {
    u32::from_le_bytes(std::array::from_fn(|r| gf_mul(MDS[r][pos], y, 0x169)))
}

/// Twofish's h function (k = 4); `words` are xored in the order given.
fn h(x: u32, words: [[u8; 4]; 4]) -> u32 {
    let b = x.to_le_bytes();
    (0..4).fold(0, |acc, pos| {
        acc ^ mds_column(pos, sbox_chain(pos, b[pos], words))
    })
}

/// Twofish with a 256-bit key, encryption direction, table-driven.
#[derive(Clone)]
pub struct Twofish256 {
    k: [u32; 40],
    /// `g(x) = s[0][x0] ^ s[1][x1] ^ s[2][x2] ^ s[3][x3]`.
    s: Box<[[u32; 256]; 4]>,
}

impl Twofish256 {
    /// Key schedule and S-box tables from a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Twofish256 {
        let m: [[u8; 4]; 8] =
            std::array::from_fn(|i| [key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
        // h's stages use the key words from the last to the first: M6, M4, M2, M0 (even) / M7, M5, M3, M1.
        let even = [m[6], m[4], m[2], m[0]];
        let odd = [m[7], m[5], m[3], m[1]];
        let mut k = [0u32; 40];
        for i in 0..20u32 {
            let a = h(0x0101_0101 * (2 * i), even);
            let b = h(0x0101_0101 * (2 * i + 1), odd).rotate_left(8);
            k[2 * i as usize] = a.wrapping_add(b);
            k[2 * i as usize + 1] = a.wrapping_add(b.wrapping_mul(2)).rotate_left(9);
        }
        // S-box key words S_i = RS * key[8i..8i+8]; g applies them S_0 first.
        let sw: [[u8; 4]; 4] = std::array::from_fn(|i| {
            std::array::from_fn(|r| {
                (0..8).fold(0, |acc, c| acc ^ gf_mul(RS[r][c], key[8 * i + c], 0x14D))
            })
        });
        let mut s = Box::new([[0u32; 256]; 4]);
        for (pos, table) in s.iter_mut().enumerate() {
            for (x, e) in table.iter_mut().enumerate() {
                *e = mds_column(pos, sbox_chain(pos, x as u8, sw));
            }
        }
        Twofish256 { k, s }
    }

    #[inline(always)]
    fn g(&self, x: u32) -> u32 {
        let b = x.to_le_bytes();
        self.s[0][usize::from(b[0])]
            ^ self.s[1][usize::from(b[1])]
            ^ self.s[2][usize::from(b[2])]
            ^ self.s[3][usize::from(b[3])]
    }

    #[inline]
    fn encrypt_words(&self, p: [u32; 4]) -> [u32; 4] {
        let k = &self.k;
        let mut r = [p[0] ^ k[0], p[1] ^ k[1], p[2] ^ k[2], p[3] ^ k[3]];
        for round in 0..16 {
            let t0 = self.g(r[0]);
            let t1 = self.g(r[1].rotate_left(8));
            let f0 = t0.wrapping_add(t1).wrapping_add(k[2 * round + 8]);
            let f1 = t0
                .wrapping_add(t1.wrapping_mul(2))
                .wrapping_add(k[2 * round + 9]);
            let r2 = (r[2] ^ f0).rotate_right(1);
            let r3 = r[3].rotate_left(1) ^ f1;
            r = [r2, r3, r[0], r[1]];
        }
        [r[2] ^ k[4], r[3] ^ k[5], r[0] ^ k[6], r[1] ^ k[7]]
    }
}

impl BlockSizeUser for Twofish256 {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Twofish256 {
    type ParBlocksSize = U1;
}

impl BlockCipherEncrypt for Twofish256 {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U16>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for Twofish256 {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let b = block.get_in();
        let p: [u32; 4] = std::array::from_fn(|i| {
            u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        });
        let c = self.encrypt_words(p);
        let out = block.get_out();
        for (i, w) in c.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use cipher::{BlockCipherEncrypt, KeyInit, array::Array};

    #[test]
    fn matches_the_twofish_crate() {
        for seed in 0..8u8 {
            let key: [u8; 32] = std::array::from_fn(|i| {
                (i as u8)
                    .wrapping_mul(29)
                    .wrapping_add(seed.wrapping_mul(101))
            });
            let ours = super::Twofish256::new(&key);
            let theirs = twofish::Twofish::new_from_slice(&key).unwrap();
            for n in 0..16u8 {
                let plain: [u8; 16] = std::array::from_fn(|i| (i as u8 ^ n).wrapping_mul(seed | 1));
                let mut a = Array::from(plain);
                let mut b = Array::from(plain);
                ours.encrypt_block(&mut a);
                theirs.encrypt_block(&mut b);
                assert_eq!(a, b, "key seed {seed}, block {n}");
            }
        }
    }
}

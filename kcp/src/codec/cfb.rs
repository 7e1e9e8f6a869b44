//! CFB (full-block feedback, fixed IV) run inside the cipher's backend, so one call covers a whole datagram
//! or a whole batch: the key schedule is loaded (and, for VAES, broadcast) once, not once per block group.
//!
//! - [`encrypt`]: one datagram's serial CFB chain, its feedback block kept out of memory.
//! - [`decrypt`]: CFB decryption is parallel within a chain (keystream block `i` is `E(C[i-1])`), so the
//!   blocks go through the backend's parallel path (8 blocks for AES-NI, 64 for VAES-512). Walking the
//!   datagram from its end lets it run in place with no copy of the ciphertext.
//! - [`encrypt_many`]: CFB encryption is a serial chain per datagram, bound by cipher latency. Independent
//!   datagrams are independent chains: up to [`LANES`] of them advance one block per step, and each step's
//!   blocks are encrypted together, so the pipelined AES units stay busy. Output is byte-identical to
//!   encrypting each datagram alone.

use std::marker::PhantomData;

use cipher::array::{Array, ArraySize};
use cipher::typenum::Unsigned;
use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser,
    ParBlocks,
};

use super::crypt::FIXED_IV;

/// Most CFB chains (datagrams) [`BlockCrypt::encrypt_many`](super::BlockCrypt::encrypt_many) advances
/// together; more are taken in as lanes finish. Callers that can choose hand it runs of about this many
/// datagrams, framed just before, so the run is still in L1 when it is encrypted.
pub const LANES: usize = 16;

fn fixed_iv<BS: ArraySize>() -> Array<u8, BS> {
    let mut iv = Array::<u8, BS>::default();
    let n = iv.len();
    iv.copy_from_slice(&FIXED_IV[..n]);
    iv
}

fn xor_into(dst: &mut [u8], ks: &[u8]) {
    for (d, k) in dst.iter_mut().zip(ks) {
        *d ^= k;
    }
}

/// `fb ^= p` for one block, as one 128-bit operation for 16-byte blocks: a byte loop here, on the serial
/// chain, is vectorised badly inside some backends' target-feature contexts.
#[inline(always)]
fn xor_block<BS: ArraySize>(fb: &mut Array<u8, BS>, p: &Array<u8, BS>) {
    if let (Ok(f), Ok(p)) = (
        <&mut [u8; 16]>::try_from(fb.as_mut_slice()),
        <&[u8; 16]>::try_from(p.as_slice()),
    ) {
        *f = (u128::from_ne_bytes(*f) ^ u128::from_ne_bytes(*p)).to_ne_bytes();
    } else {
        xor_into(fb, p);
    }
}

/// Decrypts one datagram in place (standard CFB with kcp-go's fixed IV).
pub fn decrypt<C: BlockCipherEncrypt>(cipher: &C, buf: &mut [u8]) {
    cipher.encrypt_with_backend(OneChain {
        buf,
        decrypt: true,
        _bs: PhantomData,
    });
}

/// Encrypts one datagram in place (standard CFB with kcp-go's fixed IV).
pub fn encrypt<C: BlockCipherEncrypt>(cipher: &C, buf: &mut [u8]) {
    cipher.encrypt_with_backend(OneChain {
        buf,
        decrypt: false,
        _bs: PhantomData,
    });
}

/// Encrypts each buffer in place as its own CFB chain (fixed IV), interleaving the chains.
pub fn encrypt_many<'a, C, I>(cipher: &C, bufs: I)
where
    C: BlockCipherEncrypt,
    I: Iterator<Item = &'a mut [u8]>,
{
    cipher.encrypt_with_backend(EncryptMany {
        bufs,
        _bs: PhantomData,
    });
}

/// Encrypts independent blocks in place: whole parallel groups through the backend's parallel path, the rest
/// one by one (still independent, so the CPU overlaps them).
#[inline(always)]
fn encrypt_blocks<B: BlockCipherEncBackend>(backend: &B, blocks: &mut [Block<B>]) {
    let par = B::ParBlocksSize::USIZE;
    let mut rest = blocks;
    while rest.len() >= par && par > 1 {
        let (head, tail) = rest.split_at_mut(par);
        let group: &mut ParBlocks<B> = head.try_into().expect("par blocks");
        backend.encrypt_par_blocks_inplace(group);
        rest = tail;
    }
    for b in rest {
        backend.encrypt_block_inplace(b);
    }
}

/// One datagram's CFB, either direction (both only ever use the cipher's encryption).
struct OneChain<'a, BS> {
    buf: &'a mut [u8],
    decrypt: bool,
    _bs: PhantomData<BS>,
}

impl<BS: ArraySize> BlockSizeUser for OneChain<'_, BS> {
    type BlockSize = BS;
}

impl<BS: ArraySize> BlockCipherEncClosure for OneChain<'_, BS> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = BS>>(self, backend: &B) {
        if self.decrypt {
            decrypt_chain(backend, self.buf);
        } else {
            encrypt_chain(backend, self.buf);
        }
    }
}

#[inline(always)]
fn decrypt_chain<BS: ArraySize, B: BlockCipherEncBackend<BlockSize = BS>>(
    backend: &B,
    buf: &mut [u8],
) {
    let bs = BS::USIZE;
    let par = B::ParBlocksSize::USIZE;
    // Keystream block i (covering bytes i*bs..) is E(ciphertext block i-1), E(IV) for i = 0. Going from
    // the last block down, every input is still ciphertext when it is read.
    let blocks = buf.len().div_ceil(bs);
    let mut end = blocks;
    let mut ks = ParBlocks::<B>::default();
    while end > 1 {
        let start = end.saturating_sub(par).max(1);
        let n = end - start;
        // Inputs: ciphertext blocks start-1 .. end-1, contiguous in `buf`.
        let input = &buf[(start - 1) * bs..(end - 1) * bs];
        let (in_blocks, _) = Array::<u8, BS>::slice_as_chunks(input);
        if n == par {
            let in_par: &ParBlocks<B> = in_blocks.try_into().expect("n == par blocks");
            backend.encrypt_par_blocks((in_par, &mut ks).into());
        } else {
            for (i, o) in in_blocks.iter().zip(ks.iter_mut()) {
                backend.encrypt_block((i, o).into());
            }
        }
        let out = &mut buf[start * bs..];
        for (chunk, k) in out.chunks_mut(bs).take(n).zip(ks.iter()) {
            xor_into(chunk, k);
        }
        end = start;
    }
    if blocks > 0 {
        let mut k: Block<B> = fixed_iv::<BS>();
        backend.encrypt_block_inplace(&mut k);
        let n = buf.len().min(bs);
        xor_into(&mut buf[..n], &k);
    }
}

#[inline(always)]
fn encrypt_chain<BS: ArraySize, B: BlockCipherEncBackend<BlockSize = BS>>(
    backend: &B,
    buf: &mut [u8],
) {
    // One serial chain, bound by cipher latency: the feedback block stays in a local (a register once
    // inlined) from one block to the next, and the datagram is only read and written beside the chain.
    let (blocks, tail) = Array::<u8, BS>::slice_as_chunks_mut(buf);
    let mut fb: Block<B> = fixed_iv::<BS>();
    for b in blocks {
        backend.encrypt_block_inplace(&mut fb);
        xor_block(&mut fb, b);
        b.copy_from_slice(&fb);
    }
    if !tail.is_empty() {
        // A copy, so `fb` never needs an address (slicing it would keep it in memory in the loop).
        let mut ks = fb.clone();
        backend.encrypt_block_inplace(&mut ks);
        xor_into(tail, &ks);
    }
}

struct EncryptMany<I, BS> {
    bufs: I,
    _bs: PhantomData<BS>,
}

impl<I, BS: ArraySize> BlockSizeUser for EncryptMany<I, BS> {
    type BlockSize = BS;
}

impl<'a, I, BS> BlockCipherEncClosure for EncryptMany<I, BS>
where
    I: Iterator<Item = &'a mut [u8]>,
    BS: ArraySize,
{
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = BS>>(self, backend: &B) {
        let bs = BS::USIZE;
        let mut bufs = self.bufs.filter(|b| !b.is_empty());
        // Lane j encrypts chain `lane[j]`, whose next block starts at byte `pos[j]`.
        let mut lane: [&mut [u8]; LANES] = std::array::from_fn(|_| <&mut [u8]>::default());
        let mut pos = [0usize; LANES];
        let mut active = 0;
        for slot in lane.iter_mut() {
            match bufs.next() {
                Some(b) => {
                    *slot = b;
                    active += 1;
                }
                None => break,
            }
        }
        let iv = fixed_iv::<BS>();
        let mut blocks: [Block<B>; LANES] = std::array::from_fn(|_| Block::<B>::default());
        while active > 0 {
            // Feedback of each chain: IV first, then its previous ciphertext block.
            for j in 0..active {
                let p = pos[j];
                if p == 0 {
                    blocks[j].copy_from_slice(&iv);
                } else {
                    blocks[j].copy_from_slice(&lane[j][p - bs..p]);
                }
            }
            // Independent blocks: the backend (or the CPU's out-of-order core) overlaps them.
            encrypt_blocks(backend, &mut blocks[..active]);
            let mut j = 0;
            while j < active {
                let p = pos[j];
                let end = (p + bs).min(lane[j].len());
                xor_into(&mut lane[j][p..end], &blocks[j]);
                if end < lane[j].len() {
                    pos[j] = end;
                    j += 1;
                    continue;
                }
                // Chain done: refill the lane from the queue, or close it by moving the last lane here.
                if let Some(b) = bufs.next() {
                    lane[j] = b;
                    pos[j] = 0;
                    // The new chain starts at this step's next round; its block j is filled then.
                    j += 1;
                } else {
                    active -= 1;
                    lane.swap(j, active);
                    pos.swap(j, active);
                    blocks.swap(j, active);
                    lane[active] = <&mut [u8]>::default();
                }
            }
        }
    }
}

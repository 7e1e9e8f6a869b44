//! AES for the CFB paths of [`super::cfb`], computed by the `aes` 0.8 crate and seen through the `cipher`
//! 0.5 traits the rest of the codec uses.
//!
//! Why not `aes` 0.9 alone: on CPUs with VAES + AVX-512 its backend broadcasts the whole key schedule into
//! ZMM registers on every `encrypt_with_backend` call (about 40 ns, measured), which is paid once per
//! datagram and direction, and its 64-block parallel path rarely fills for one datagram (85 blocks). CFB
//! encryption of a datagram is a serial chain of single blocks, which the plain AES-NI backend of the 0.8
//! line runs at the cipher's latency with no per-call set-up; decryption in groups of 8 is as fast as VAES
//! at this size. Without AES-NI, the 0.8 crate falls back to its constant-time software backend.

use std::cell::RefCell;

use cipher::consts::{U8, U16};
use cipher::inout::InOut;
use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser,
    ParBlocks, ParBlocksSizeUser,
};
use cipher04::generic_array::GenericArray;
use cipher04::typenum::Unsigned;
use cipher04::{BlockBackend, BlockClosure, BlockEncrypt, KeyInit};

/// An AES cipher of the `aes` 0.8 crate (`aes08::Aes128`, `Aes192` or `Aes256`) as a `cipher` 0.5 block
/// cipher (encryption only: CFB never uses AES decryption).
#[derive(Clone)]
pub struct Aes<C>(C);

impl<C: KeyInit> Aes<C> {
    /// The cipher for `key`, or `None` if its length is wrong.
    pub fn new(key: &[u8]) -> Option<Self> {
        C::new_from_slice(key).ok().map(Aes)
    }
}

impl<C> BlockSizeUser for Aes<C> {
    type BlockSize = U16;
}

impl<C: BlockEncrypt<BlockSize = U16>> BlockCipherEncrypt for Aes<C> {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U16>) {
        self.0.encrypt_with_backend(Bridge(f));
    }
}

/// A `cipher` 0.5 closure run as a `cipher` 0.4 one.
struct Bridge<F>(F);

impl<F> cipher04::BlockSizeUser for Bridge<F> {
    type BlockSize = U16;
}

impl<F: BlockCipherEncClosure<BlockSize = U16>> BlockClosure for Bridge<F> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        self.0.call(&Backend(RefCell::new(backend)));
    }
}

/// A `cipher` 0.4 backend (which takes `&mut self`) as a `cipher` 0.5 one (`&self`). The copies in and out
/// of its block types vanish once inlined.
struct Backend<'a, B>(RefCell<&'a mut B>);

impl<B> BlockSizeUser for Backend<'_, B> {
    type BlockSize = U16;
}

impl<B> ParBlocksSizeUser for Backend<'_, B> {
    type ParBlocksSize = U8;
}

impl<B: BlockBackend<BlockSize = U16>> BlockCipherEncBackend for Backend<'_, B> {
    #[inline(always)]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        // In place on the output (the copy is a no-op for in-place calls, the only kind cfb.rs makes).
        let input = block.clone_in();
        let out = block.get_out();
        *out = input;
        let b = GenericArray::<u8, U16>::from_mut_slice(out.as_mut_slice());
        self.0.borrow_mut().proc_block(b.into());
    }

    #[inline(always)]
    fn encrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let mut be = self.0.borrow_mut();
        if B::ParBlocksSize::USIZE != 8 {
            drop(be);
            for i in 0..8 {
                self.encrypt_block(blocks.get(i));
            }
            return;
        }
        let mut par = cipher04::ParBlocks::<B>::default();
        for (p, b) in par.iter_mut().zip(blocks.get_in().iter()) {
            p.copy_from_slice(b);
        }
        be.proc_par_blocks((&mut par).into());
        for (o, p) in blocks.get_out().iter_mut().zip(par.iter()) {
            o.copy_from_slice(p);
        }
    }
}

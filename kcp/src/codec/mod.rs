//! The kcp-go datagram envelope: cipher, checksum and Reed-Solomon FEC, with no I/O.
//!
//! Wire format and behaviour: `shared/spec/kcp-go-packet.md` (sections 1 to 5) and `kcptun.md` section 4.
//! The entry point is [`Codec`], configured by [`CodecConfig`]; the pieces ([`BlockCrypt`], [`FecEncoder`],
//! [`FecDecoder`], [`derive_key`]) are public for tests, tools and benchmarks.

mod autotune;
mod crypt;
mod envelope;
mod fec;
mod kdf;
mod nonce;
mod salsa;
mod tea;
mod twofish;

pub use crypt::{BlockCrypt, CryptKind, FIXED_IV};
pub use envelope::{
    CRYPT_HEADER_LEN, Codec, CodecConfig, CodecError, CodecStats, Decoded, DropReason, EncodeError,
    KCP_OVERHEAD, KcpPacket, NONCE_LEN, Parity, peek_conv_sn,
};
pub use fec::{
    DecodeEvents, FEC_DATA_HEADER_LEN, FEC_HEADER_LEN, FecDecoder, FecEncoder, FecError, FecLimits,
    MTU_LIMIT, TYPE_DATA, TYPE_PARITY,
};
pub use kdf::{derive_key, xor_pad};
pub use nonce::NonceSource;

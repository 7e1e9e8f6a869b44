//! The kcp-go datagram envelope: cipher, checksum and Reed-Solomon FEC, with no I/O.
//!
//! Wire format and behaviour: `shared/spec/kcp-go-packet.md` (sections 1 to 5) and `kcptun.md` section 4.
//! The entry point is [`Codec`], configured by [`CodecConfig`]; the pieces ([`BlockCrypt`], [`FecEncoder`],
//! [`FecDecoder`], [`derive_key`]) are public for tests, tools and benchmarks.
//!
//! How a session uses it:
//! - Sending: KCP lays out each datagram after [`Codec::header_len`] free bytes (so its MTU is
//!   [`Codec::kcp_mtu`]); [`Codec::encode`] fills nonce, CRC and FEC header and encrypts in place; send that
//!   buffer, then each datagram of the returned [`Parity`] (they borrow the codec's own buffers: copy or send
//!   them before the next `encode`). A sender that flushes several datagrams at once calls
//!   [`Codec::encode_batch`] instead: the same bytes on the wire, handed to a sink in wire order, with the
//!   CFB chains of different datagrams encrypted interleaved (about 2-3x the AES throughput of `encode`).
//!   A sender that copies datagrams into its own send queue as they come calls [`Codec::encode_framed`]
//!   for each (FEC, nonce, CRC; no encryption) and then [`Codec::encrypt_framed`] once over the queued
//!   flush, with the same effect (this is what `kcp::net` does).
//! - Receiving: [`Codec::decode`] decrypts and checks in place and yields [`KcpPacket`]s: the received one
//!   (`recovered: false`, kcp-go `regular`) and any rebuilt by FEC (`recovered: true`). A listener that must
//!   find the session first calls [`Codec::open`] (crypto only), reads [`peek_conv_sn`], then hands the
//!   opened bytes to the session's [`Codec::input`].
//! - Time: `now_ms` is any wrapping millisecond clock; it drives FEC expiry and the optional parity latency
//!   rule ([`FecLimits`]).
//! - Counters: [`Codec::stats`], named after kcp-go's SNMP counters.

mod aesni;
mod autotune;
mod cfb;
mod crypt;
mod envelope;
mod fec;
mod kdf;
mod nonce;
mod salsa;
mod tea;
mod twofish;

pub use cfb::LANES as CFB_LANES;
pub use crypt::{BlockCrypt, CryptKind, FIXED_IV};
pub use envelope::{
    CRYPT_HEADER_LEN, Codec, CodecConfig, CodecError, CodecStats, Decoded, DropReason, EncodeError,
    KCP_OVERHEAD, KcpPacket, NONCE_LEN, Parity, Sealed, peek_conv_sn,
};
pub use fec::{
    DecodeEvents, FEC_DATA_HEADER_LEN, FEC_HEADER_LEN, FecDecoder, FecEncoder, FecError, FecLimits,
    MTU_LIMIT, TYPE_DATA, TYPE_PARITY,
};
pub use kdf::{derive_key, xor_pad};
pub use nonce::NonceSource;

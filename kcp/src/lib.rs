//! KCP over UDP, wire-compatible with kcp-go v5.6.1.
//!
//! - [`codec`]: the kcp-go datagram envelope (cipher, checksum, Reed-Solomon FEC), no I/O.

pub mod codec;

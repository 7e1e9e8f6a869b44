//! KCP over UDP, wire-compatible with kcp-go v5.6.1.
//!
//! * [`proto`]: the ARQ state machine, no I/O, driven by the caller's clock.
//! * [`codec`]: the kcp-go datagram envelope (cipher, checksum, Reed-Solomon FEC), no I/O.
//! * [`net`]: the tokio edge: [`net::KcpStream`], [`net::KcpListener`], batched UDP, statistics.

#![warn(missing_docs)]

pub mod codec;
pub mod net;
pub mod proto;

//! KCP over UDP, wire-compatible with kcp-go v5.6.1.

pub mod codec;
pub mod net;
pub mod proto;

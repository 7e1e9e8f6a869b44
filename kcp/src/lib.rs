//! KCP over UDP, wire-compatible with kcp-go v5.6.1.
//!
//! * [`proto`]: the ARQ state machine, no I/O, driven by the caller's clock.

#![warn(missing_docs)]

pub mod proto;

//! The KCP ARQ, sans I/O: segment codec, send/receive windows, RTO estimation, fast and early retransmit,
//! congestion window, window probing. Behaviour and wire format follow kcp-go v5.6.1.
//!
//! Time is the caller's wrapping u32 millisecond clock, passed into every call that needs it. Nothing here
//! blocks, sleeps, or allocates per datagram in steady state; the cost of an ACK or a retransmission does not
//! depend on the window size.

#![forbid(unsafe_code)]

mod config;
mod header;
mod kcp;
mod rcvbuf;
mod rtt;
mod seq;
mod sndbuf;
mod stats;

pub use config::{ConfigError, DEAD_LINK, KcpConfig, MTU_DEF, Preset, WND_DEF};
pub use header::{Cmd, InputError, OVERHEAD, SN_OFFSET, SegmentHeader, Segments, segments};
pub use kcp::{Kcp, RecvError, SendError};
pub use rtt::{RTO_DEF, RTO_MAX, RTO_MIN, RTO_NDL, RttEstimator};
pub use seq::diff as seq_diff;
pub use stats::Stats;

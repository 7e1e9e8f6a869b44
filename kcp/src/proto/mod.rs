//! The KCP ARQ, sans I/O: segment codec, send/receive windows, RTO estimation, fast and early retransmit,
//! congestion window, window probing. Behaviour and wire format follow kcp-go v5.6.1.
//!
//! Time is the caller's wrapping u32 millisecond clock, passed into every call that needs it. Nothing here
//! blocks, sleeps, or allocates per datagram in steady state; the cost of an ACK or a retransmission does not
//! depend on the window size.
//!
//! Where the behaviour differs from kcp-go (timing only; every byte on the wire is formed as kcp-go forms it):
//!
//! * Malformed datagrams are rejected whole before anything is applied (kcp-go applies the segments before the
//!   bad one).
//! * Fast/early retransmit counts, per segment, the ACKs of transmissions sent after it (RACK-like) instead of
//!   kcp-go's "later sn and not-later ts" walk, so an ACK costs O(1); see `sndbuf.rs`.
//! * The congestion window (only with `nc` off) grows per newly acknowledged segment, not per datagram; the
//!   fast-retransmit inflation does not wrap when `resend` is 0; a timeout shown spurious by the ACK's echoed
//!   timestamp gives back the window it took.
//! * An ACK that makes a fast/early retransmission due, and a PUSH arriving out of order, ask for an immediate
//!   flush (retransmission / ACK) instead of waiting for the next interval.
//! * A peer's zero window is probed (WASK) one retransmission timeout after it shut, then at intervals half
//!   again as long, up to 120 s (kcp-go's first probe waits 7 s, which a lost WINS costs in full).

#![forbid(unsafe_code)]

mod autownd;
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
pub use kcp::{Kcp, MAX_BUNDLE, RecvError, SendError};
pub use rtt::{RTO_DEF, RTO_MAX, RTO_MIN, RTO_NDL, RttEstimator};
pub use seq::diff as seq_diff;
pub use stats::Stats;

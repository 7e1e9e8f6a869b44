//! smux v1 and v2 stream multiplexing, wire-compatible with xtaci/smux v1.5.16, over any tokio
//! `AsyncRead + AsyncWrite` transport (TCP, a KCP session, an in-memory pipe).
//!
//! - [`Session::client`] / [`Session::server`] start a session; [`Session::open_stream`] and
//!   [`Session::accept_stream`] give [`Stream`]s (tokio `AsyncRead + AsyncWrite`, `shutdown` = FIN).
//! - Memory is bounded: the session-wide receive budget (smux's token bucket, [`Config::max_receive_buffer`]),
//!   v2 per-stream windows with UPD, bounded per-stream send queues, an accept backlog and a stream limit.
//! - One driver task per session reads the transport and writes control frames first, then data from busy
//!   streams round robin, gathering many frames into each (vectored) transport write. A stream whose send
//!   buffer is full writes the queued frames itself when the transport writer is free, saving the
//!   hand-over to the driver task.
//! - Bad input (wrong version, unknown command, oversize frame) ends the session with an [`Error`] that
//!   names it; so does keepalive silence.
//!
//! The [`frame`] module is the sans-IO codec.

#![warn(missing_docs)]

mod config;
mod driver;
mod error;
pub mod frame;
mod queue;
mod recv;
mod session;
mod state;
mod stream;
mod writer;

pub use config::Config;
pub use error::Error;
pub use session::{Session, Stats};
pub use stream::Stream;

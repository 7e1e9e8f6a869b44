//! The tokio edge: KCP sessions on real UDP sockets.
//!
//! - [`KcpStream::connect`] opens a client session on a socket of its own;
//!   [`KcpListener::bind`] carries many sessions on one socket.
//! - One driver task per socket owns the socket (batched receive through recvmmsg/GRO, GSO sends via
//!   quinn-udp), the timers of all its sessions (one heap, deadlines from each core), and every flush;
//!   stream handles only move bytes in and out of their core and ask the driver to flush.
//! - Process-wide counters with kcp-go's SNMP names: [`stats::snmp`]; per session: [`KcpStream::stats`].

mod config;
mod core;
mod demux;
mod driver;
mod envelope;
mod listener;
mod session;
pub mod stats;
mod stream;
mod timer;
mod udp;

pub use config::{Config, DEFAULT_WINDOW_MEMORY};
pub use listener::KcpListener;
pub use stats::{SessionStats, Snmp, SnmpSnapshot, snmp};
pub use stream::KcpStream;

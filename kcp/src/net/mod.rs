//! The tokio edge: KCP sessions on real UDP sockets.

mod demux;
pub mod stats;
mod timer;
mod udp;

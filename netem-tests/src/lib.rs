//! Network emulation for the KCP stack: a seeded link model ([`link`]), a two-endpoint virtual-clock simulator
//! ([`sim`]) and the reports built on them ([`scenario`]: the loss x RTT matrix and the C reference's latency
//! test).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cell;
pub mod impair;
pub mod link;
pub mod matrix;
pub mod netns;
pub mod nfq;
pub mod relay;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod tcpimpair;
pub mod workload;

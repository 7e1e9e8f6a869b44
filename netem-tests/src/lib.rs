//! Network emulation for the KCP stack: a seeded link model ([`link`]), a two-endpoint virtual-clock simulator
//! ([`sim`]) and the reports built on them ([`scenario`]: the loss x RTT matrix and the C reference's latency
//! test).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod link;
pub mod scenario;
pub mod sim;

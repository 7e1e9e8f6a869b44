//! Programs people run on the stack, and the small pieces they share.
//!
//! The binaries live in `src/bin/`: `chat`, `file-transfer`, `tunnel` (with `tunnel-client` and
//! `tunnel-server`, drop-in replacements for `kcptun-client` and `kcptun-server`) and `demo`. Their logic is in
//! the modules below so the integration tests and the binaries share it.

#![warn(missing_docs)]

pub mod addr;
pub mod logging;
pub mod transfer;
pub mod tunnel;

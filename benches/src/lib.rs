//! Helpers for the benchmarks in `benches/` and the comparison binaries in `src/bin/`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod proto_pair;

//! Shared helpers for the benchmarks in `benches/` and the comparison binaries in `src/bin/`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod proto_pair;

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// A criterion measurement of the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) instead of wall
/// time. On a shared, oversubscribed machine, wall time mostly measures how often the thread was scheduled
/// out; CPU time measures the work. `benches/go/zz_envelope_bench_test.go` accounts the Go side the same way
/// (per-thread rusage), so the side-by-side ratios compare like with like.
///
/// ```no_run
/// use criterion::Criterion;
/// let c: Criterion<benches::CpuTime> = Criterion::default().with_measurement(benches::CpuTime);
/// ```
pub struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }

    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }

    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

/// Formats CPU nanoseconds (and throughput per CPU second), unscaled.
struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "ns (cpu)"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => {
                for v in values {
                    *v = b as f64 / *v * 1e3; // bytes per ns -> MB per cpu-second
                }
                "MB/s (cpu)"
            }
            Throughput::Elements(e) => {
                for v in values {
                    *v = e as f64 / *v * 1e3;
                }
                "Melem/s (cpu)"
            }
        }
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

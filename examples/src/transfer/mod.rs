//! File transfer over the stack: one stream per file, several at once, resumable, SHA-256 verified.

pub mod receive;
pub mod send;
pub mod wire;

use indicatif::{ProgressBar, ProgressStyle};

/// Bytes moved per read/write.
pub const CHUNK: usize = 256 * 1024;

/// `12.3 MiB` style sizes.
///
/// ```
/// assert_eq!(kcp_examples::transfer::human_bytes(1536), "1.5 KiB");
/// ```
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A byte progress bar with throughput and ETA (drawn only on a terminal).
pub fn progress_bar(total: u64, msg: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(msg.to_string());
    bar
}

/// Transport settings for file transfer (see [`crate::link_config`]).
pub fn config(key: &str, crypt: &str, mode: &str, compress: bool) -> anyhow::Result<stack::Config> {
    crate::link_config(key, crypt, mode, compress)
}

//! Programs people run on the stack, and the small pieces they share.
//!
//! The binaries live in `src/bin/`: `chat`, `file-transfer`, `tunnel` (with `tunnel-client` and
//! `tunnel-server`, drop-in replacements for `kcptun-client` and `kcptun-server`) and `demo`. Their logic is in
//! the modules below so the integration tests and the binaries share it.

#![warn(missing_docs)]

pub mod addr;
pub mod chat;
pub mod logging;
pub mod transfer;
pub mod tunnel;

/// Transport settings for the examples whose two ends are both ours: kcptun's defaults with larger windows
/// (1024 segments each way) and a quicker keepalive, so a vanished peer is noticed within 10 seconds.
///
/// ```
/// let cfg = kcp_examples::link_config("secret", "aes", "fast2", false).unwrap();
/// assert_eq!(cfg.sndwnd, 1024);
/// ```
pub fn link_config(
    key: &str,
    crypt: &str,
    mode: &str,
    compress: bool,
) -> anyhow::Result<stack::Config> {
    let cfg = stack::Config {
        key: key.to_string(),
        crypt: kcp::codec::CryptKind::from_kcptun_name(crypt),
        mode: stack::Mode::from_name(mode).ok_or_else(|| {
            anyhow::anyhow!("unknown --mode {mode:?} (normal, fast, fast2, fast3)")
        })?,
        sndwnd: 1024,
        rcvwnd: 1024,
        nocomp: !compress,
        keepalive: 2,
        keepalive_timeout: std::time::Duration::from_secs(10),
        connect_timeout: std::time::Duration::from_secs(3),
        ..stack::Config::default()
    };
    cfg.validate()?;
    Ok(cfg)
}

//! Address parsing in the forms kcptun users type (`:12948` means every interface).

use std::net::SocketAddr;

use anyhow::{Context, bail};

/// Resolves `host:port`, `ip:port` or `:port` (all IPv4 interfaces) to one socket address.
///
/// ```
/// let a = kcp_examples::addr::resolve(":4000").unwrap();
/// assert_eq!(a.to_string(), "0.0.0.0:4000");
/// ```
pub fn resolve(text: &str) -> anyhow::Result<SocketAddr> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    let mut addrs = std::net::ToSocketAddrs::to_socket_addrs(&full)
        .with_context(|| format!("cannot resolve address {text:?} (expected host:port)"))?;
    match addrs.next() {
        Some(a) => Ok(a),
        None => bail!("address {text:?} resolved to nothing"),
    }
}

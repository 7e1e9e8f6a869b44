//! [`KcpListener`]: many sessions on one UDP socket.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::lookup_host;
use tokio::sync::mpsc;

use super::config::Config;
use super::driver::{Driver, Role};
use super::session::EndpointShared;
use super::stream::{KcpStream, sock_opts};
use super::udp::Udp;

/// Accepts KCP sessions on one UDP socket, demultiplexed by peer address as kcp-go does.
///
/// A session is created by the first valid datagram from a new address (its conv is taken from it),
/// only while fewer than [`Config::accept_backlog`] sessions wait to be accepted and fewer than
/// [`Config::max_sessions`] are open; datagrams that fail the checksum never create one.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use kcp::net::{Config, KcpListener};
/// use tokio::io::copy;
/// let listener = KcpListener::bind("127.0.0.1:29900", Config::default()).await?;
/// loop {
///     let (stream, _peer) = listener.accept().await?;
///     tokio::spawn(async move {
///         let (mut r, mut w) = tokio::io::split(stream);
///         let _ = copy(&mut r, &mut w).await;
///     });
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct KcpListener {
    accept: tokio::sync::Mutex<mpsc::Receiver<(KcpStream, SocketAddr)>>,
    shared: Arc<EndpointShared>,
}

impl KcpListener {
    /// Binds a UDP socket and starts its driver.
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        config: Config,
    ) -> io::Result<KcpListener> {
        config.validate()?;
        let addr = lookup_host(addr).await?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
        })?;
        let udp = Arc::new(Udp::bind(addr, sock_opts(&config))?);
        let shared = EndpointShared::new(udp.clone())?;
        let (tx, rx) = mpsc::channel(config.accept_backlog);
        let role = Role::Listener {
            accept: tx,
            by_addr: Default::default(),
        };
        let driver = Driver::new(udp, shared.clone(), Arc::new(config), role)?;
        tokio::spawn(driver.run());
        Ok(KcpListener {
            accept: tokio::sync::Mutex::new(rx),
            shared,
        })
    }

    /// Waits for the next session.
    pub async fn accept(&self) -> io::Result<(KcpStream, SocketAddr)> {
        self.accept
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "kcp listener socket closed"))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.shared.local)
    }

    /// Sessions of this listener whose buffers are alive (accepted or not, including ones still
    /// delivering data after their stream was dropped).
    pub fn live_sessions(&self) -> usize {
        self.shared.live.load(Ordering::Relaxed)
    }
}

impl Drop for KcpListener {
    fn drop(&mut self) {
        // Open sessions keep being served; the driver exits when the last one ends.
        self.shared.closing.store(true, Ordering::Release);
        self.shared.notify.notify_one();
    }
}

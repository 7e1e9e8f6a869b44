//! [`KcpSmuxListener`]: accepts streams from many clients on one UDP socket, as kcptun's server.

use std::net::SocketAddr;

use kcp::net::{KcpListener, KcpStream};
use tokio::net::ToSocketAddrs;
use tokio::sync::{Mutex, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::comp::CompStream;
use crate::config::Config;
use crate::error::Error;
use crate::stream::Stream;

/// Accepts streams that clients (ours or `kcptun-client`) open over KCP sessions to one UDP port.
///
/// Every KCP session gets its own smux server session (through snappy unless `nocomp`); its streams
/// are handed out by [`accept`](KcpSmuxListener::accept) in arrival order with the client's address. A
/// session that fails (protocol error, keepalive timeout, dead link) is closed on its own; the others go
/// on. At most [`Config::accept_backlog`] accepted streams wait; beyond that the sessions stop reading
/// until the application accepts. Dropping the listener stops accepting; streams already accepted go on.
///
/// ```no_run
/// # async fn demo() -> Result<(), stack::Error> {
/// let listener = stack::KcpSmuxListener::bind("127.0.0.1:29900", stack::Config::server_default()).await?;
/// loop {
///     let (mut stream, _peer) = listener.accept().await?;
///     tokio::spawn(async move {
///         let (mut r, mut w) = tokio::io::split(&mut stream);
///         let _ = tokio::io::copy(&mut r, &mut w).await;
///     });
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct KcpSmuxListener {
    rx: Mutex<mpsc::Receiver<(Stream, SocketAddr)>>,
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl KcpSmuxListener {
    /// Binds the UDP socket and starts accepting.
    pub async fn bind(addr: impl ToSocketAddrs, config: Config) -> Result<KcpSmuxListener, Error> {
        config.validate()?;
        let listener = KcpListener::bind(addr, config.kcp_config()).await?;
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(config.accept_backlog);
        let task = tokio::spawn(accept_sessions(listener, config, tx));
        Ok(KcpSmuxListener {
            rx: Mutex::new(rx),
            local,
            task,
        })
    }

    /// Waits for the next stream and the address of the client that opened it.
    pub async fn accept(&self) -> Result<(Stream, SocketAddr), Error> {
        self.rx.lock().await.recv().await.ok_or_else(|| {
            Error::Io(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "listener socket closed",
            ))
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for KcpSmuxListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_sessions(
    listener: KcpListener,
    config: Config,
    tx: mpsc::Sender<(Stream, SocketAddr)>,
) {
    // Owned here so that aborting this task (listener dropped) stops every per-session accept loop.
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((kcp, peer)) => {
                    sessions.spawn(serve_session(kcp, peer, config.clone(), tx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "kcp listener ended");
                    return;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

async fn serve_session(
    kcp: KcpStream,
    peer: SocketAddr,
    config: Config,
    tx: mpsc::Sender<(Stream, SocketAddr)>,
) {
    let session = if config.nocomp {
        smux::Session::server(kcp, config.smux_config())
    } else {
        smux::Session::server(CompStream::new(kcp), config.smux_config())
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "smux session refused");
            return;
        }
    };
    loop {
        match session.accept_stream().await {
            Ok(s) => {
                if tx.send((Stream::new(s, None), peer)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "smux session ended");
                break;
            }
        }
    }
    session.close().await;
}

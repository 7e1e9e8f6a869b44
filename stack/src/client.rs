//! The client: `connect()` and [`Client::open_stream`] over `conn` KCP sessions, as kcptun's client.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kcp::net::KcpStream;
use tokio::io::AsyncWriteExt;
use tokio::net::ToSocketAddrs;
use tokio::sync::Mutex;

use crate::comp::CompStream;
use crate::config::Config;
use crate::error::Error;
use crate::stream::{Stream, Usage};

/// How often a scavenger looks at an expired session.
const SCAVENGE_PERIOD: Duration = Duration::from_secs(1);

/// Opens a client to a kcptun-compatible server at `addr` (UDP).
///
/// The first KCP session is opened at once and probed: an smux NOP (ignored by every smux peer) is sent
/// and must be acknowledged by the peer's KCP within [`Config::connect_timeout`], else
/// [`Error::ConnectTimedOut`]. The other `conn - 1` sessions open lazily, on the first stream assigned to
/// them, as kcptun does.
///
/// ```no_run
/// # async fn demo() -> Result<(), stack::Error> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let client = stack::connect("127.0.0.1:29900", &stack::Config::default()).await?;
/// let mut s = client.open_stream().await?;
/// s.write_all(b"hello").await?;
/// let mut buf = [0u8; 5];
/// s.read_exact(&mut buf).await?;
/// # Ok(()) }
/// ```
pub async fn connect(addr: impl ToSocketAddrs, config: &Config) -> Result<Client, Error> {
    open(addr, config, true).await
}

/// Opens a client as [`connect`] does, but without the probe, as kcptun's client: nothing is sent until the
/// first stream opens, which then costs no extra round trip. A server that cannot be reached shows later,
/// as streams that fail (their session is replaced), not as an error here.
///
/// ```no_run
/// # async fn demo() -> Result<(), stack::Error> {
/// let client = stack::connect_lazy("127.0.0.1:29900", &stack::Config::default()).await?;
/// let s = client.open_stream().await?;
/// # drop(s); Ok(()) }
/// ```
pub async fn connect_lazy(addr: impl ToSocketAddrs, config: &Config) -> Result<Client, Error> {
    open(addr, config, false).await
}

async fn open(addr: impl ToSocketAddrs, config: &Config, probe: bool) -> Result<Client, Error> {
    config.validate()?;
    let remote = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| Error::config("remoteaddr", "address resolved to nothing"))?;
    let inner = Arc::new(ClientInner {
        remote,
        config: config.clone(),
        kcp: config.kcp_config(),
        slots: (0..config.conn).map(|_| Mutex::new(None)).collect(),
        next: AtomicUsize::new(0),
        created: AtomicUsize::new(0),
    });
    let first = inner.new_mux(probe).await?;
    *inner.slots[0].lock().await = Some(first);
    Ok(Client { inner })
}

/// A client: opens streams over `conn` KCP sessions to one server.
///
/// Streams are assigned to sessions round robin. A session that is closed (dead link, keepalive timeout,
/// protocol error), past its `autoexpire`, or unused for longer than [`Config::idle_recycle`] is replaced
/// by a fresh one on the next [`open_stream`](Client::open_stream) that lands on its slot; the application
/// never reconnects by hand. Cheap to clone; all clones share the sessions.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    remote: SocketAddr,
    config: Config,
    kcp: kcp::net::Config,
    slots: Vec<Mutex<Option<Mux>>>,
    next: AtomicUsize,
    created: AtomicUsize,
}

/// One KCP session with its smux session.
#[derive(Debug)]
struct Mux {
    session: Arc<smux::Session>,
    usage: Arc<Usage>,
    expires: Option<Instant>,
}

/// What a [`Client`] looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// KCP sessions opened so far (including replacements).
    pub sessions_created: usize,
    /// Slots holding a live session.
    pub sessions_live: usize,
    /// Streams open across the slots' sessions.
    pub streams: usize,
}

impl Client {
    /// Opens a stream on the next session (round robin), replacing that session first if it is gone,
    /// expired or was idle too long. Returns once the SYN is queued (smux has no open handshake).
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        let inner = &self.inner;
        let idx = inner.next.fetch_add(1, Ordering::Relaxed) % inner.slots.len();
        let mut slot = inner.slots[idx].lock().await;
        let now = Instant::now();
        if slot.as_ref().is_some_and(|m| !m.usable(now, &inner.config)) {
            if let Some(old) = slot.take() {
                old.retire();
            }
        }
        // Two tries: a session can die between the check above and the open.
        for attempt in 0..2 {
            let mux = match slot.as_mut() {
                Some(m) => m,
                None => slot.insert(inner.new_mux(false).await?),
            };
            match mux.session.open_stream().await {
                Ok(s) => return Ok(Stream::new(s, Some(mux.usage.guard()))),
                Err(e) => {
                    if let Some(old) = slot.take() {
                        old.retire();
                    }
                    if attempt == 1 {
                        return Err(Error::from_smux(e));
                    }
                }
            }
        }
        Err(Error::SessionLost("no session could be opened".into()))
    }

    /// The server address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.remote
    }

    /// Counts of sessions and streams now.
    pub async fn stats(&self) -> ClientStats {
        let mut live = 0;
        let mut streams = 0;
        for slot in &self.inner.slots {
            if let Some(m) = slot.lock().await.as_ref() {
                if !m.session.is_closed() {
                    live += 1;
                    streams += m.session.num_streams();
                }
            }
        }
        ClientStats {
            sessions_created: self.inner.created.load(Ordering::Relaxed),
            sessions_live: live,
            streams,
        }
    }

    /// Closes every session now; open streams fail with [`Error::SessionLost`].
    pub async fn close(&self) {
        for slot in &self.inner.slots {
            if let Some(m) = slot.lock().await.take() {
                m.session.close().await;
            }
        }
    }
}

impl ClientInner {
    /// Opens a KCP session and an smux client over it (through snappy unless `nocomp`). With `probe`,
    /// first checks that the server acknowledges a NOP.
    async fn new_mux(&self, probe: bool) -> Result<Mux, Error> {
        let cfg = &self.config;
        let mut kcp = KcpStream::connect(self.remote, self.kcp.clone()).await?;
        self.created.fetch_add(1, Ordering::Relaxed);
        // smux NOP: version, cmd 3, length 0, sid 0. Every smux peer ignores it.
        let nop = [cfg.smuxver, 3, 0, 0, 0, 0, 0, 0];
        let session = if cfg.nocomp {
            if probe {
                kcp.write_all(&nop)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                self.await_ack(&kcp).await?;
            }
            smux::Session::client(kcp, cfg.smux_config())
        } else {
            let mut comp = CompStream::new(kcp);
            if probe {
                comp.write_all(&nop)
                    .await
                    .map_err(|e| self.connect_error(e))?;
                comp.flush().await.map_err(|e| self.connect_error(e))?;
                self.await_ack(comp.get_ref()).await?;
            }
            smux::Session::client(comp, cfg.smux_config())
        }
        .map_err(Error::from_smux)?;
        let session = Arc::new(session);
        let expires = (cfg.autoexpire > 0).then(|| {
            let expires = Instant::now() + Duration::from_secs(cfg.autoexpire);
            let kill_at = expires + Duration::from_secs(cfg.scavengettl);
            tokio::spawn(scavenge(session.clone(), kill_at.into()));
            expires
        });
        Ok(Mux {
            session,
            usage: Usage::new(),
            expires,
        })
    }

    /// Waits until the peer's KCP has acknowledged everything sent (the probe), or the connect timeout.
    async fn await_ack(&self, kcp: &KcpStream) -> Result<(), Error> {
        match tokio::time::timeout(self.config.connect_timeout, kcp.acked()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.connect_error(e)),
            Err(_) => Err(Error::ConnectTimedOut {
                addr: self.remote,
                after: self.config.connect_timeout,
            }),
        }
    }

    /// The error a failed connect probe reports: refusal (ICMP port unreachable) is its own case.
    fn connect_error(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            Error::ConnectRefused { addr: self.remote }
        } else {
            Error::Io(e)
        }
    }
}

impl Mux {
    fn usable(&self, now: Instant, cfg: &Config) -> bool {
        if self.session.is_closed() {
            return false;
        }
        if self.expires.is_some_and(|e| now > e) {
            return false;
        }
        match (cfg.idle_recycle, self.usage.idle_for(now)) {
            (Some(limit), Some(idle)) => idle <= limit,
            _ => true,
        }
    }

    /// Takes the session out of service. Without streams it ends now; with streams it serves them until
    /// they end (or its scavenger closes it).
    fn retire(self) {
        if self.usage.idle_for(Instant::now()).is_some() || self.session.is_closed() {
            let session = self.session;
            tokio::spawn(async move { session.close().await });
        }
    }
}

/// kcptun's scavenger: closes an expired session once `expiry + scavengettl` has passed; lets go early if
/// the session ended or was retired and has no streams left.
async fn scavenge(session: Arc<smux::Session>, kill_at: tokio::time::Instant) {
    let mut tick = tokio::time::interval(SCAVENGE_PERIOD);
    loop {
        tick.tick().await;
        if session.is_closed() {
            return;
        }
        // Only the scavenger holds the session once its slot let go; with no streams it is finished.
        if Arc::strong_count(&session) == 1 && session.num_streams() == 0 {
            session.close().await;
            return;
        }
        if tokio::time::Instant::now() >= kill_at {
            tracing::debug!("scavenger closes an expired session");
            session.close().await;
            return;
        }
    }
}

//! [`KcpStream`]: one KCP session as an `AsyncRead + AsyncWrite` byte stream or a message channel.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::lookup_host;

use super::config::Config;
use super::driver::{Driver, Role};
use super::session::{EndpointShared, Session, State};
use super::stats::{SessionStats, Snmp, snmp};
use super::udp::{SockOpts, Udp};

/// A KCP session over UDP.
///
/// In stream mode ([`Config::stream_mode`], the default) it is a reliable ordered byte stream: use it
/// through [`AsyncRead`]/[`AsyncWrite`]. In message mode, [`KcpStream::send_msg`] and
/// [`KcpStream::recv_msg`] keep message boundaries.
///
/// Writes wait while the send window and the bounded write queue are full. KCP has no close
/// message: [`shutdown`](tokio::io::AsyncWriteExt::shutdown) waits until everything written has been
/// acknowledged; dropping the stream lets the driver finish delivering what was written, then frees the
/// session. A session that hears nothing for [`Config::idle_timeout`], or whose link is dead, ends with
/// [`io::ErrorKind::TimedOut`] for readers and writers. A client session whose peer's port is closed (the
/// host answers ICMP port unreachable) ends with [`io::ErrorKind::ConnectionRefused`].
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use kcp::net::{Config, KcpStream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let mut s = KcpStream::connect("127.0.0.1:29900", Config::default()).await?;
/// s.write_all(b"hello").await?;
/// let mut buf = [0u8; 5];
/// s.read_exact(&mut buf).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct KcpStream {
    sess: Arc<Session>,
}

impl KcpStream {
    pub(crate) fn new(sess: Arc<Session>) -> Self {
        KcpStream { sess }
    }

    /// Opens a session to `addr` from a new UDP socket of its own, with a random conv.
    pub async fn connect(
        addr: impl tokio::net::ToSocketAddrs,
        config: Config,
    ) -> io::Result<KcpStream> {
        config.validate()?;
        let remote = lookup_host(addr).await?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
        })?;
        let local: SocketAddr = if remote.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(|_| io::Error::other("unreachable: literal address"))?;
        let mut udp = Udp::bind(local, sock_opts(&config))?;
        udp.connect(remote).await?;
        let udp = Arc::new(udp);
        let shared = EndpointShared::new(udp.clone())?;
        let mut driver = Driver::new(udp, shared, Arc::new(config), Role::Client { remote })?;
        let sess = driver.open_client(remote, rand::random())?;
        tokio::spawn(driver.run());
        Ok(KcpStream::new(sess))
    }

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.sess.conv
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.sess.remote
    }

    /// The local socket address (shared by all sessions of a listener).
    pub fn local_addr(&self) -> SocketAddr {
        self.sess.endpoint.local
    }

    /// RTT, RTO, window and traffic figures of this session now.
    pub fn stats(&self) -> SessionStats {
        let st = self.sess.lock();
        let mut s = st.stats;
        if let Some(live) = &st.live {
            live.core.fill_stats(&mut s);
        }
        s
    }

    /// Waits until the peer has acknowledged everything written so far. Ends with the session's error
    /// if it ended first (for example `ConnectionRefused` when the peer's port is closed, or `TimedOut`).
    /// Unlike [`shutdown`](tokio::io::AsyncWriteExt::shutdown), writing may go on afterwards.
    pub async fn acked(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_acked(cx, false)).await
    }

    /// Ready once everything written is acknowledged (or the session ended); `shut` also ends writing.
    fn poll_acked(&self, cx: &mut Context<'_>, shut: bool) -> Poll<io::Result<()>> {
        let mut st = self.sess.lock();
        if shut {
            st.write_shut = true;
        }
        match (st.ended, st.live.as_ref()) {
            (Some(reason), _) => Poll::Ready(Err(reason.to_error())),
            (None, Some(live)) if live.core.wait_snd() == 0 => Poll::Ready(Ok(())),
            (None, _) => {
                st.write_waker = Some(cx.waker().clone());
                drop(st);
                self.sess.poke();
                Poll::Pending
            }
        }
    }

    /// Sends one message (message mode; in stream mode the bytes join the stream). Waits for window
    /// space; a message larger than the window allows at once is an error.
    pub async fn send_msg(&self, msg: &[u8]) -> io::Result<()> {
        poll_fn(|cx| self.poll_send_msg(cx, msg)).await
    }

    fn poll_send_msg(&self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        let mut st = self.sess.lock();
        if let Err(e) = writable(&st) {
            return Poll::Ready(Err(e));
        }
        let Some(live) = st.live.as_mut() else {
            return Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected)));
        };
        let segs = msg.len().div_ceil(live.core.mss()).max(1);
        if segs > 255 || segs > live.write_limit() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "message too large",
            )));
        }
        if live.core.write_backlog() + segs > live.write_limit() {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        live.core.send(msg)?;
        st.stats.bytes_sent += msg.len() as u64;
        Snmp::add(&snmp().bytes_sent, msg.len() as u64);
        self.sess.flush_inline(st);
        Poll::Ready(Ok(()))
    }

    /// Receives one message into `buf` and returns its length (message mode). A message longer than
    /// `buf` is an error and stays queued. Returns 0 at most when the message itself is empty.
    pub async fn recv_msg(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf, true)).await
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        whole: bool,
    ) -> Poll<io::Result<usize>> {
        let mut st = self.sess.lock();
        let st = &mut *st;
        if let Some(live) = st.live.as_mut() {
            let (n, poke) = if whole {
                live.core.recv_msg(buf)?
            } else {
                live.core.recv_stream(buf)
            };
            if n > 0 || (whole && poke) {
                st.stats.bytes_received += n as u64;
                Snmp::add(&snmp().bytes_received, n as u64);
                if poke {
                    self.sess.poke();
                }
                return Poll::Ready(Ok(n));
            }
            if st.ended.is_none() {
                st.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        Poll::Ready(Err(st.ended.map_or_else(
            || io::Error::from(io::ErrorKind::NotConnected),
            |r| r.to_error(),
        )))
    }
}

pub(crate) fn sock_opts(config: &Config) -> SockOpts {
    SockOpts {
        recv_buffer: config.socket_recv_buffer,
        send_buffer: config.socket_send_buffer,
        dscp: config.dscp,
    }
}

/// Why a write cannot proceed: the session ended or this side shut down its writes.
fn writable(st: &State) -> io::Result<()> {
    if let Some(reason) = st.ended {
        return Err(reason.to_error());
    }
    if st.write_shut {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "write after shutdown",
        ));
    }
    Ok(())
}

impl AsyncRead for KcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        match self.poll_recv(cx, buf.initialize_unfilled(), false) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for KcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut st = self.sess.lock();
        if let Err(e) = writable(&st) {
            return Poll::Ready(Err(e));
        }
        let Some(live) = st.live.as_mut() else {
            return Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected)));
        };
        let wait = live.core.write_backlog();
        if wait >= live.write_limit() {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min((live.write_limit() - wait) * live.core.mss());
        live.core.send(&buf[..n])?;
        st.stats.bytes_sent += n as u64;
        Snmp::add(&snmp().bytes_sent, n as u64);
        self.sess.flush_inline(st);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written data is already with the driver, which sends as soon as the window allows.
        Poll::Ready(Ok(()))
    }

    /// Waits until everything written has been acknowledged by the peer (or the session ended).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_acked(cx, true)
    }
}

impl Drop for KcpStream {
    fn drop(&mut self) {
        let mut st = self.sess.lock();
        st.released = true;
        st.read_waker = None;
        st.write_waker = None;
        drop(st);
        self.sess.poke();
    }
}

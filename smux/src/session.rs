//! `Session`: the handle through which streams are opened and accepted.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use crate::config::Config;
use crate::driver::Driver;
use crate::error::Error;
use crate::state::{Ctrl, Shared, Slot};
use crate::stream::Stream;

/// Counters and gauges of a session, for tests and monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Streams registered in the session (open, half-closed, waiting to be accepted, or still flushing).
    pub streams: usize,
    /// Streams opened by the peer waiting for `accept_stream`.
    pub accept_backlog: usize,
    /// Bytes received and not yet read by the application (what the token bucket accounts).
    pub recv_buffered: usize,
    /// Bytes written by the application and not yet handed to the transport writer.
    pub send_buffered: usize,
    /// Bytes read from the transport but not yet parsed into frames.
    pub read_buffered: usize,
    /// Bytes of free blocks kept for reuse by the stream send queues (bounded by the receive plus send
    /// buffer sizes, released gradually while unused).
    pub pooled_bytes: usize,
    /// Bytes of transport read buffers the session holds: the one being filled, a few spares, and
    /// earlier ones that unread payloads still refer to. Given back while the session is idle (at
    /// the keepalive tick).
    pub read_buffers: usize,
    /// Bytes of transport read buffers held alive by received, unread payloads (which are slices of
    /// them). Bounded by `max_receive_buffer` plus two read buffers (1 MiB); beyond that received
    /// payloads are copied out instead.
    pub recv_pinned: usize,
    /// Control frames waiting to be written.
    pub control_queued: usize,
    /// The smux token bucket (may dip below zero by one frame).
    pub bucket: i64,
    /// Whether reading is paused (bucket empty or accept backlog full).
    pub read_paused: bool,
    /// Tasks the session runs: 1 while the driver runs, then 0. No task is spawned per stream.
    pub tasks: usize,
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Bytes read from the transport.
    pub bytes_in: u64,
    /// Bytes written to the transport.
    pub bytes_out: u64,
    /// Peer SYNs refused because `max_streams` was reached.
    pub refused_streams: u64,
    /// Streams closed by the idle timeout.
    pub idle_closed: u64,
}

/// An smux session over a transport `T`.
///
/// The session spawns one driver task on the current tokio runtime; it reads the transport (writes also
/// happen in streams' tasks, see the crate overview). The session
/// ends when [`close`](Session::close) is called, on a transport or protocol error, on keepalive timeout,
/// or when the `Session` and all its streams are dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let client = smux::Session::client(a, smux::Config::default())?;
/// let server = smux::Session::server(b, smux::Config::default())?;
/// let mut s = client.open_stream().await?;
/// s.write_all(b"hello").await?;
/// let mut t = server.accept_stream().await?;
/// let mut buf = [0u8; 5];
/// t.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Session {
    shared: Arc<Shared>,
}

impl Session {
    /// Starts a client session (opens odd stream ids 3, 5, 7, ... as xtaci/smux).
    pub fn client<T>(io: T, config: Config) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Session::start(io, config, true)
    }

    /// Starts a server session (opens even stream ids 2, 4, 6, ...).
    pub fn server<T>(io: T, config: Config) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Session::start(io, config, false)
    }

    fn start<T>(io: T, config: Config, client: bool) -> Result<Session, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        config.validate()?;
        let span = tracing::debug_span!(
            "smux",
            side = if client { "client" } else { "server" },
            version = config.version
        );
        // The driver reads; the write half is shared (see `writer`).
        let (read_half, write_half) = tokio::io::split(io);
        let shared = Shared::new(config, client, Box::pin(write_half));
        tokio::spawn(
            Driver::new(read_half, shared.clone())
                .run()
                .instrument(span),
        );
        Ok(Session { shared })
    }

    /// Opens a new stream: queues its SYN and returns at once.
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        let mut inner = self.shared.lock();
        if let Some(e) = inner.error.clone() {
            return Err(e);
        }
        if inner.closing {
            return Err(Error::SessionClosed);
        }
        if inner.go_away {
            return Err(Error::GoAway);
        }
        if inner.streams.len() >= self.shared.config.max_streams {
            return Err(Error::TooManyStreams(self.shared.config.max_streams));
        }
        inner.next_id = inner.next_id.wrapping_add(2);
        let sid = inner.next_id;
        if sid == sid % 2 {
            inner.go_away = true;
            return Err(Error::GoAway);
        }
        let mut slot = Slot::new(inner.epoch);
        slot.has_handle = true;
        inner.streams.insert(sid, slot);
        inner.ctrl.push_back(Ctrl::Syn(sid));
        inner.handles += 1;
        inner.wake_driver();
        drop(inner);
        Ok(Stream::new(self.shared.clone(), sid))
    }

    /// Waits for the next stream opened by the peer.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        poll_fn(|cx| {
            let mut guard = self.shared.lock();
            let inner = &mut *guard;
            if let Some(sid) = inner.accept_q.pop_front() {
                if inner.read_paused {
                    inner.wake_driver();
                }
                if let Some(slot) = inner.streams.get_mut(&sid) {
                    slot.has_handle = true;
                    inner.handles += 1;
                    return Poll::Ready(Ok(Stream::new(self.shared.clone(), sid)));
                }
            }
            if let Some(e) = inner.error.clone() {
                return Poll::Ready(Err(e));
            }
            if !inner.accept_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                inner.accept_wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Number of streams registered in the session (smux `NumStreams`).
    pub fn num_streams(&self) -> usize {
        self.shared.lock().streams.len()
    }

    /// Whether the session has ended (or is ending).
    pub fn is_closed(&self) -> bool {
        let inner = self.shared.lock();
        inner.error.is_some() || inner.closing
    }

    /// The error that ended the session, if it has ended.
    pub fn error(&self) -> Option<Error> {
        self.shared.lock().error.clone()
    }

    /// Closes the session: writes out what is already queued, shuts the transport down and waits for the
    /// driver to end. Streams then fail with [`Error::SessionClosed`]. No frame is sent for it (as smux).
    pub async fn close(&self) {
        {
            let mut inner = self.shared.lock();
            inner.closing = true;
            inner.wake_driver();
        }
        self.wait_finished().await;
    }

    /// Waits until the driver task has ended (after `close`, an error, or keepalive timeout).
    pub async fn wait_finished(&self) {
        loop {
            let notified = self.shared.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.shared.lock().driver_running {
                return;
            }
            notified.await;
        }
    }

    /// A snapshot of the session's counters.
    pub fn stats(&self) -> Stats {
        let inner = self.shared.lock();
        Stats {
            streams: inner.streams.len(),
            accept_backlog: inner.accept_q.len(),
            recv_buffered: inner.recv_total,
            send_buffered: inner.send_total,
            read_buffered: inner.read_buffered,
            pooled_bytes: inner.pool.free_blocks() * crate::queue::BLOCK,
            read_buffers: inner.read_buffers,
            recv_pinned: inner.pins.bytes(),
            control_queued: inner.ctrl.len(),
            bucket: inner.bucket,
            read_paused: inner.read_paused,
            tasks: usize::from(inner.driver_running),
            frames_in: inner.frames_in,
            frames_out: inner.frames_out,
            bytes_in: inner.bytes_in,
            bytes_out: inner.bytes_out,
            refused_streams: inner.refused_streams,
            idle_closed: inner.idle_closed,
        }
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.handles -= 1;
        if inner.handles == 0 {
            inner.wake_driver();
        }
    }
}

//! [`Stream`]: one multiplexed stream, as the application sees it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::map_stream_io;

/// Counts the streams a client session carries and remembers when it last carried none.
#[derive(Debug)]
pub(crate) struct Usage {
    active: AtomicUsize,
    idle_since: std::sync::Mutex<Instant>,
}

impl Usage {
    pub(crate) fn new() -> Arc<Usage> {
        Arc::new(Usage {
            active: AtomicUsize::new(0),
            idle_since: std::sync::Mutex::new(Instant::now()),
        })
    }

    /// How long the session has carried no stream (`None` while it carries one).
    pub(crate) fn idle_for(&self, now: Instant) -> Option<std::time::Duration> {
        let since = self.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        (self.active.load(Ordering::Acquire) == 0).then(|| now.saturating_duration_since(*since))
    }

    pub(crate) fn guard(self: &Arc<Usage>) -> UsageGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        UsageGuard(self.clone())
    }
}

/// Held by a client stream; its drop may make the session idle.
#[derive(Debug)]
pub(crate) struct UsageGuard(Arc<Usage>);

impl Drop for UsageGuard {
    fn drop(&mut self) {
        let mut since = self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner());
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            *since = Instant::now();
        }
    }
}

/// A stream: reliable, ordered bytes in both directions, `AsyncRead + AsyncWrite`.
///
/// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) sends FIN after the written data and keeps the
/// read side open (half-close); reads return EOF after the peer's FIN. Dropping the stream closes it
/// (queued data still goes out, then FIN). Errors carry a [`crate::Error`] when the cause is one an
/// application acts on ([`Error::SessionLost`](crate::Error::SessionLost),
/// [`Error::StreamReset`](crate::Error::StreamReset)); get it with [`crate::Error::from_io`].
///
/// Note that kcptun closes both directions when either of its copy loops ends, so a half-closed stream
/// to a kcptun peer is ended by it.
#[derive(Debug)]
pub struct Stream {
    inner: smux::Stream,
    _usage: Option<UsageGuard>,
}

impl Stream {
    pub(crate) fn new(inner: smux::Stream, usage: Option<UsageGuard>) -> Stream {
        Stream {
            inner,
            _usage: usage,
        }
    }

    /// The smux stream id (odd: opened by a client).
    pub fn id(&self) -> u32 {
        self.inner.id()
    }
}

fn map<T>(r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
    match r {
        Poll::Ready(Err(e)) => Poll::Ready(Err(map_stream_io(e))),
        other => other,
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        map(Pin::new(&mut self.inner).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        map(Pin::new(&mut self.inner).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        map(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        map(Pin::new(&mut self.inner).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        map(Pin::new(&mut self.inner).poll_shutdown(cx))
    }
}

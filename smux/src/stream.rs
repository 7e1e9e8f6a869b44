//! `Stream`: one multiplexed byte stream, tokio `AsyncRead + AsyncWrite`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::Error;
use crate::state::{Ctrl, Inner, Shared, Slot};
use crate::writer;

/// A stream of a [`Session`](crate::Session).
///
/// Reads return buffered data, then EOF once the peer has sent FIN. Writes queue up to
/// [`Config::stream_send_buffer`](crate::Config::stream_send_buffer) bytes for the session's writer; `flush`
/// waits until the queue has been handed to the transport writer. `shutdown` sends FIN after the queued
/// data (a half-close: the stream can still be read). Dropping the stream closes it like smux's
/// `Stream.Close`: queued data is still sent (in v2 as far as the peer's window allows) and then FIN.
///
/// FIN is a true half-close here. xtaci/smux v1.5.16 has no half-close: its `Close` ends both directions
/// and discards later data, so a v2 writer whose Go peer has closed waits for window until the stream is
/// dropped (or [`Config::idle_stream_timeout`](crate::Config::idle_stream_timeout) fires).
///
/// ```no_run
/// # async fn demo(session: smux::Session) -> std::io::Result<()> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let mut s = session.open_stream().await?;
/// s.write_all(b"ping").await?;
/// s.shutdown().await?; // FIN
/// let mut reply = Vec::new();
/// s.read_to_end(&mut reply).await?; // until the peer's FIN
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Stream {
    shared: Arc<Shared>,
    sid: u32,
}

impl Stream {
    pub(crate) fn new(shared: Arc<Shared>, sid: u32) -> Stream {
        Stream { shared, sid }
    }

    /// The stream id (client-opened streams are odd, server-opened even).
    pub fn id(&self) -> u32 {
        self.sid
    }

    /// Bytes received on this stream and not yet read: `(received_unread, queued_to_send)`.
    pub fn buffered(&self) -> (usize, usize) {
        let inner = self.shared.lock();
        inner
            .streams
            .get(&self.sid)
            .map_or((0, 0), |s| (s.recv_len, s.send.len()))
    }
}

/// The error a stream operation reports when its slot is gone or failed.
fn stream_error(inner: &Inner, slot: Option<&Slot>) -> Error {
    if let Some(e) = slot.and_then(|s| s.error.clone()) {
        return e;
    }
    inner.error.clone().unwrap_or(Error::StreamClosed)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let cfg = &self.shared.config;
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let Some(slot) = inner.streams.get_mut(&self.sid) else {
            return Poll::Ready(Err(stream_error(inner, None).into()));
        };
        if slot.error.is_some() {
            let e = stream_error(inner, inner.streams.get(&self.sid));
            return Poll::Ready(Err(e.into()));
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if slot.recv_len > 0 {
            // Only as many bytes as are queued get initialized (not the caller's whole spare capacity).
            let want = buf.remaining().min(slot.recv_len);
            let n = slot
                .recv
                .read_into(buf.initialize_unfilled_to(want), &mut inner.pins);
            buf.advance(n);
            slot.recv_len -= n;
            if cfg.version == 2 {
                // smux: UPD after the first read, then whenever half the stream buffer was consumed.
                // Written by the driver, not from here: with many busy streams it sends their UPDs
                // together in one transport write.
                slot.num_read = slot.num_read.wrapping_add(n as u32);
                slot.incr = slot.incr.wrapping_add(n as u32);
                if slot.incr as usize >= cfg.max_stream_buffer / 2 || slot.num_read == n as u32 {
                    slot.incr = 0;
                    if !slot.upd_pending {
                        slot.upd_pending = true;
                        inner.ctrl.push_back(Ctrl::Upd(self.sid));
                        inner.wake_driver();
                    }
                }
            }
            inner.return_tokens(n);
            return Poll::Ready(Ok(()));
        }
        if slot.peer_fin {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = inner.error.clone() {
            return Poll::Ready(Err(e.into()));
        }
        match &slot.read_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.read_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let cfg = &self.shared.config;
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if let Some(e) = inner.error.clone().or_else(|| inner.write_error.clone()) {
            return Poll::Ready(Err(e.into()));
        }
        let Some(slot) = inner.streams.get_mut(&self.sid) else {
            return Poll::Ready(Err(Error::StreamClosed.into()));
        };
        if let Some(e) = slot.error.clone().or_else(|| slot.write_error.clone()) {
            return Poll::Ready(Err(e.into()));
        }
        if slot.fin_pending {
            return Poll::Ready(Err(Error::StreamClosed.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // v2 with the peer's window shut: nothing can be sent until an UPD opens it, and the driver queues
        // the stream when it reads that UPD. Neither a driver wake-up nor an inline write would find
        // anything to send now.
        let window_shut = cfg.version == 2 && matches!(slot.v2_window(), Ok(w) if w <= 0);
        let space = cfg.stream_send_buffer.saturating_sub(slot.send.len());
        if space == 0 {
            slot.write_waker = Some(cx.waker().clone());
            drop(guard);
            if !window_shut {
                // Write the queue out from this task if the writer is free (else the driver does).
                writer::write_inline(&self.shared, cx);
            }
            return Poll::Pending;
        }
        let n = space.min(buf.len());
        slot.send.push(&buf[..n], &mut inner.pool);
        inner.send_total += n;
        if window_shut {
            // Queued by the driver when the UPD that opens the window arrives.
        } else if slot.send.len() >= cfg.stream_send_buffer {
            // A full send buffer is written from this task, without a hand-over to the driver task:
            // a bulk sender keeps its own thread busy and needs no wake-ups. Small writes still go
            // through the driver, which gathers them (and control frames) into few transport writes.
            inner.queue_ready(self.sid);
            drop(guard);
            writer::write_inline(&self.shared, cx);
        } else {
            inner.mark_ready(self.sid);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if let Some(e) = inner.write_error.clone() {
            return Poll::Ready(Err(e.into()));
        }
        let Some(slot) = inner.streams.get_mut(&self.sid) else {
            return Poll::Ready(Err(stream_error(inner, None).into()));
        };
        if let Some(e) = slot.error.clone().or_else(|| slot.write_error.clone()) {
            return Poll::Ready(Err(e.into()));
        }
        // Done once everything was handed to the transport writer, even if the session ended since
        // (a peer may close the connection as soon as it has what it waited for).
        if slot.send.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = inner.error.clone() {
            return Poll::Ready(Err(e.into()));
        }
        slot.write_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let Some(slot) = inner.streams.get_mut(&self.sid) else {
            return Poll::Ready(Err(stream_error(inner, None).into()));
        };
        if slot.fin_sent {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = slot.error.clone() {
            return Poll::Ready(Err(e.into()));
        }
        if let Some(e) = inner.error.clone().or_else(|| inner.write_error.clone()) {
            return Poll::Ready(Err(e.into()));
        }
        slot.write_waker = Some(cx.waker().clone());
        if !slot.fin_pending {
            slot.fin_pending = true;
            inner.mark_ready(self.sid);
        }
        Poll::Pending
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        inner.handles -= 1;
        if inner.handles == 0 {
            inner.wake_driver();
        }
        let sid = self.sid;
        let Some(slot) = inner.streams.get_mut(&sid) else {
            return;
        };
        slot.dropped = true;
        slot.read_waker = None;
        slot.write_waker = None;
        let unread = slot.recv_len;
        slot.recv.clear(&mut inner.pins);
        slot.recv_len = 0;
        if unread > 0 {
            inner.return_tokens(unread);
        }
        let Some(slot) = inner.streams.get_mut(&sid) else {
            return;
        };
        if slot.fin_sent || slot.error.is_some() || inner.error.is_some() {
            inner.remove(sid);
            return;
        }
        slot.fin_pending = true;
        inner.mark_ready(sid);
    }
}

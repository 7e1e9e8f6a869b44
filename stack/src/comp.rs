//! kcptun's `CompStream`: snappy framing over a byte stream, each write sent as whole chunks at once.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::snappy::{Decoder, Encoder, MAX_BLOCK};

/// Most input bytes taken by one write; bounds the encoded bytes waiting for the transport.
const MAX_WRITE: usize = 4 * MAX_BLOCK;
/// Bytes asked from the transport per read.
const READ_CHUNK: usize = 64 * 1024;

/// A byte stream whose bytes travel snappy-framed over `T`.
///
/// Writes are encoded into whole chunks straight away (kcptun flushes after every write) and handed to
/// `T` before the next write is taken, so at most one write's chunks wait here. Reads decode one chunk at
/// a time, so at most one chunk of input and 64 KiB of output are buffered. A corrupt chunk is an
/// `InvalidData` error.
#[derive(Debug)]
pub struct CompStream<T> {
    inner: T,
    enc: Encoder,
    dec: Decoder,
    /// Encoded bytes not yet accepted by `inner`.
    wbuf: BytesMut,
    /// Gathers vectored writes into one piece so they share chunks.
    gather: Vec<u8>,
    /// Framed bytes read from `inner`, not yet decoded.
    rbuf: BytesMut,
    /// Decoded bytes not yet read.
    decoded: BytesMut,
    eof: bool,
}

impl<T> CompStream<T> {
    /// Wraps a transport.
    pub fn new(inner: T) -> CompStream<T> {
        CompStream {
            inner,
            enc: Encoder::new(),
            dec: Decoder::new(),
            wbuf: BytesMut::new(),
            gather: Vec::new(),
            rbuf: BytesMut::new(),
            decoded: BytesMut::new(),
            eof: false,
        }
    }

    /// The wrapped transport.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncWrite + Unpin> CompStream<T> {
    /// Hands buffered chunks to the transport until none are left or it is busy.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.wbuf.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wbuf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wbuf.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    fn accept(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.enc.encode(data, &mut self.wbuf);
        // Start sending now; what the transport does not take yet goes out on the next write or flush.
        if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CompStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_WRITE);
        this.accept(cx, &buf[..n])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        let mut gather = std::mem::take(&mut this.gather);
        gather.clear();
        for b in bufs {
            let room = MAX_WRITE - gather.len();
            if room == 0 {
                break;
            }
            gather.extend_from_slice(&b[..b.len().min(room)]);
        }
        let r = if gather.is_empty() {
            Poll::Ready(Ok(0))
        } else {
            this.accept(cx, &gather)
        };
        this.gather = gather;
        r
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CompStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.decoded.is_empty() {
                let n = this.decoded.len().min(buf.remaining());
                buf.put_slice(&this.decoded[..n]);
                this.decoded.advance(n);
                return Poll::Ready(Ok(()));
            }
            match this.dec.decode_chunk(&mut this.rbuf, &mut this.decoded) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            }
            if this.eof {
                if this.rbuf.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "snappy stream ended inside a chunk",
                )));
            }
            this.rbuf.reserve(READ_CHUNK);
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.inner),
                cx,
                &mut this.rbuf
            ))?;
            if n == 0 {
                this.eof = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn round_trip_over_a_small_pipe() {
        let (a, b) = tokio::io::duplex(1000);
        let mut w = CompStream::new(a);
        let mut r = CompStream::new(b);
        let data: Vec<u8> = (0..500_000u32).map(|i| (i * 7 / 13) as u8).collect();
        let expect = data.clone();
        let writer = tokio::spawn(async move {
            for part in data.chunks(33_333) {
                w.write_all(part).await.unwrap();
            }
            w.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, expect);
    }

    #[tokio::test]
    async fn vectored_writes_share_a_chunk() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut w = CompStream::new(a);
        let parts = [IoSlice::new(b"abc"), IoSlice::new(b"def")];
        let n = w.write_vectored(&parts).await.unwrap();
        assert_eq!(n, 6);
        w.flush().await.unwrap();
        drop(w);
        let mut raw = Vec::new();
        b.read_to_end(&mut raw).await.unwrap();
        // identifier + one uncompressed chunk of 4 + 6 bytes
        assert_eq!(raw.len(), 10 + 4 + 4 + 6);
        assert_eq!(&raw[raw.len() - 6..], b"abcdef");
    }

    #[tokio::test]
    async fn corrupt_input_is_invalid_data() {
        let (mut a, b) = tokio::io::duplex(1 << 16);
        let mut r = CompStream::new(b);
        a.write_all(b"\x01\x05\x00\x00hello").await.unwrap();
        let mut buf = [0u8; 16];
        let e = r.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}

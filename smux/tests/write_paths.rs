//! The frames a session writes are the same whichever task writes them (the driver, or a stream's task
//! writing its full send buffer itself) and whether or not the transport takes vectored writes, also
//! when the transport accepts only part of a write or is momentarily full.

mod common;

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::pattern;
use smux::frame::{Decoder, Frame};
use smux::{Config, Session};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A transport that records what is written to it: at most `max_per_call` bytes per write, and every
/// `full_every`-th write finds it full (`Pending`, with an immediate wake-up). Nothing is ever read.
struct Recorder {
    log: Arc<Mutex<Vec<u8>>>,
    vectored: bool,
    max_per_call: usize,
    full_every: usize,
    calls: usize,
}

impl Recorder {
    fn accept(&mut self, cx: &mut Context<'_>, bufs: &[&[u8]]) -> Poll<std::io::Result<usize>> {
        self.calls += 1;
        if self.calls % self.full_every == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut log = self.log.lock().unwrap();
        let mut n = 0;
        for b in bufs {
            let k = b.len().min(self.max_per_call - n);
            log.extend_from_slice(&b[..k]);
            n += k;
            if n == self.max_per_call {
                break;
            }
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Pending
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.accept(cx, &[buf])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if !self.vectored {
            // What tokio's default does: the first non-empty buffer only.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.accept(cx, &[first]);
        }
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        self.accept(cx, &slices)
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a client session over a `Recorder`: a bulk stream (32 KiB writes, filling its send buffer many
/// times) and a stream of small writes, both closed, then the session. Returns the bytes written.
async fn record(version: u8, vectored: bool, max_per_call: usize, full_every: usize) -> Vec<u8> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let io = Recorder {
        log: log.clone(),
        vectored,
        max_per_call,
        full_every,
        calls: 0,
    };
    let cfg = Config {
        version,
        keep_alive_disabled: true,
        stream_send_buffer: 64 * 1024,
        ..Config::default()
    };
    let sess = Session::client(io, cfg).unwrap();
    let mut bulk = sess.open_stream().await.unwrap();
    let mut small = sess.open_stream().await.unwrap();
    // v2: within the initial window of a peer that never sends UPD.
    let data = pattern(1, 200_000);
    let bulk_task = async {
        for chunk in data.chunks(32 * 1024) {
            bulk.write_all(chunk).await.unwrap();
        }
        bulk.shutdown().await.unwrap();
    };
    let small_task = async {
        for i in 0..300u32 {
            small.write_all(&i.to_le_bytes()).await.unwrap();
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        small.shutdown().await.unwrap();
    };
    tokio::join!(bulk_task, small_task);
    sess.close().await;
    log.lock().unwrap().clone()
}

/// Decodes a recorded byte stream and checks it: SYN before data, data in order, FIN last, no frame
/// beyond `max_frame_size`. Returns each stream's payload.
fn check(version: u8, wire: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let dec = Decoder::new(version, 65535);
    let mut buf = bytes::BytesMut::from(wire);
    let mut streams: Vec<(u32, Vec<u8>, bool)> = Vec::new();
    while let Some(f) = dec.decode(&mut buf).expect("valid frames") {
        match f {
            Frame::Syn { sid } => {
                assert!(streams.iter().all(|s| s.0 != sid), "SYN twice for {sid}");
                streams.push((sid, Vec::new(), false));
            }
            Frame::Psh { sid, data } => {
                assert!(data.len() <= 32768, "frame of {}", data.len());
                let s = streams
                    .iter_mut()
                    .find(|s| s.0 == sid)
                    .expect("PSH after SYN");
                assert!(!s.2, "PSH after FIN on {sid}");
                s.1.extend_from_slice(&data);
            }
            Frame::Fin { sid } => {
                let s = streams
                    .iter_mut()
                    .find(|s| s.0 == sid)
                    .expect("FIN after SYN");
                assert!(!s.2, "FIN twice on {sid}");
                s.2 = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        buf.is_empty(),
        "{} bytes of a partial frame left",
        buf.len()
    );
    assert!(streams.iter().all(|s| s.2), "every stream ends with FIN");
    streams.into_iter().map(|(sid, d, _)| (sid, d)).collect()
}

/// The frames of a recorded byte stream, each re-encoded on its own.
fn frames(version: u8, wire: &[u8]) -> Vec<Vec<u8>> {
    let dec = Decoder::new(version, 65535);
    let mut buf = bytes::BytesMut::from(wire);
    let mut out = Vec::new();
    while let Some(f) = dec.decode(&mut buf).unwrap() {
        let mut b = bytes::BytesMut::new();
        f.encode(version, &mut b);
        out.push(b.to_vec());
    }
    out
}

#[tokio::test]
async fn same_frames_with_and_without_vectored_writes() {
    let small: Vec<u8> = (0..300u32).flat_map(|i| i.to_le_bytes()).collect();
    for version in [1, 2] {
        for (max_per_call, full_every) in [(usize::MAX, usize::MAX), (50_000, 3), (7_000, 5)] {
            let plain = record(version, false, max_per_call, full_every).await;
            let vectored = record(version, true, max_per_call, full_every).await;
            for wire in [&plain, &vectored] {
                let got = check(version, wire);
                assert_eq!(got.len(), 2);
                assert_eq!(got[0], (3, pattern(1, 200_000)));
                assert_eq!(got[1], (5, small.clone()));
            }
            // Same frames in the same order (what differs is only how they were handed over).
            assert!(
                frames(version, &plain) == frames(version, &vectored),
                "v{version} max_per_call {max_per_call} full_every {full_every}"
            );
        }
    }
}

//! Who moves a bulk transfer along: the driver does not sleep between the writes of a fast sender, and
//! a bulk reader writes its own v2 window updates instead of handing them to the driver task.

mod common;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::pattern;
use smux::frame::{Decoder, Frame};
use smux::{Config, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What the scripted transport's next read does.
enum Read {
    /// Returns these bytes (over as many reads as the caller's buffer needs).
    Data(Vec<u8>),
    /// Returns `Pending` once without keeping the waker: nothing will announce the data that follows.
    SilentPending,
}

#[derive(Default)]
struct Script {
    reads: VecDeque<Read>,
    written: Vec<u8>,
    /// Kept when the script is used up, so that the session sleeps (nothing wakes it).
    parked: Option<Waker>,
}

/// A transport that reads what the script says and records what is written to it.
#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Script>>);

impl AsyncRead for Scripted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut s = self.0.lock().unwrap();
        match s.reads.pop_front() {
            Some(Read::Data(mut d)) => {
                let k = d.len().min(buf.remaining());
                buf.put_slice(&d[..k]);
                if k < d.len() {
                    s.reads.push_front(Read::Data(d.split_off(k)));
                }
                Poll::Ready(Ok(()))
            }
            Some(Read::SilentPending) => Poll::Pending,
            None => {
                s.parked = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Scripted {
    fn new(reads: Vec<Read>) -> Scripted {
        let s = Scripted::default();
        s.0.lock().unwrap().reads = reads.into();
        s
    }

    /// The frames written so far.
    fn frames(&self, version: u8) -> Vec<Frame> {
        let mut buf = BytesMut::from(&self.0.lock().unwrap().written[..]);
        let dec = Decoder::new(version, 65535);
        let mut out = Vec::new();
        while let Some(f) = dec.decode(&mut buf).expect("valid frames") {
            out.push(f);
        }
        out
    }

    /// The `consumed` counts of the UPD frames written so far.
    fn upds(&self) -> Vec<u32> {
        self.frames(2)
            .into_iter()
            .filter_map(|f| match f {
                Frame::Upd { consumed, .. } => Some(consumed),
                _ => None,
            })
            .collect()
    }
}

fn encode(version: u8, frames: &[Frame]) -> Vec<u8> {
    let mut b = BytesMut::new();
    for f in frames {
        f.encode(version, &mut b);
    }
    b.to_vec()
}

/// After a bulk read the driver looks at the transport again without being woken: here the second
/// part of the data is never announced, so without that the stream would wait forever (the paused
/// clock runs the timeout at once when nothing else can run).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn driver_reads_on_after_bulk_data_without_a_wakeup() {
    let data = pattern(3, 41_000);
    let first = encode(
        1,
        &[
            Frame::Syn { sid: 3 },
            Frame::Psh {
                sid: 3,
                data: Bytes::copy_from_slice(&data[..40_000]),
            },
        ],
    );
    let second = encode(
        1,
        &[Frame::Psh {
            sid: 3,
            data: Bytes::copy_from_slice(&data[40_000..]),
        }],
    );
    let io = Scripted::new(vec![
        Read::Data(first),
        Read::SilentPending,
        Read::Data(second),
    ]);
    let cfg = Config {
        keep_alive_disabled: true,
        ..Config::default()
    };
    let server = Session::server(io, cfg).unwrap();
    let mut s = server.accept_stream().await.unwrap();
    let mut got = vec![0u8; data.len()];
    tokio::time::timeout(Duration::from_secs(60), s.read_exact(&mut got))
        .await
        .expect("the data after the unannounced pause was read")
        .unwrap();
    assert_eq!(got, data);
}

/// A v2 reader that has consumed half its window writes the UPD in its own `poll_read` (no hand-over
/// to the driver task, which this single-threaded test does not let run in between). The UPD after
/// the first read (small exchanges) is still the driver's.
#[tokio::test(flavor = "current_thread")]
async fn bulk_reader_writes_its_window_update_itself() {
    let data = pattern(5, 8192);
    let frames = encode(
        2,
        &[
            Frame::Syn { sid: 3 },
            Frame::Psh {
                sid: 3,
                data: Bytes::copy_from_slice(&data[..4096]),
            },
            Frame::Psh {
                sid: 3,
                data: Bytes::copy_from_slice(&data[4096..]),
            },
        ],
    );
    let io = Scripted::new(vec![Read::Data(frames)]);
    let cfg = Config {
        version: 2,
        keep_alive_disabled: true,
        max_stream_buffer: 8192,
        ..Config::default()
    };
    let server = Session::server(io.clone(), cfg).unwrap();
    let mut s = server.accept_stream().await.unwrap();
    // Wait until all 8 KiB are queued (the driver parses them in one go).
    let mut turns = 0;
    while s.buffered().0 < 8192 {
        turns += 1;
        assert!(turns < 1000, "data not delivered");
        tokio::task::yield_now().await;
    }
    let mut got = vec![0u8; 8192];
    s.read_exact(&mut got[..2048]).await.unwrap();
    // The first read's UPD: queued for the driver, not written by the reader.
    assert_eq!(io.upds(), Vec::<u32>::new());
    let mut turns = 0;
    while io.upds().is_empty() {
        turns += 1;
        assert!(turns < 1000, "the driver never wrote the first UPD");
        tokio::task::yield_now().await;
    }
    assert_eq!(io.upds(), vec![2048]);
    // Half the window (4 KiB) consumed since: the UPD is on the wire when the read returns.
    s.read_exact(&mut got[2048..6144]).await.unwrap();
    assert_eq!(io.upds(), vec![2048, 6144]);
    s.read_exact(&mut got[6144..]).await.unwrap();
    assert_eq!(got, data);
}

//! The driver does not sleep between the writes of a fast bulk sender (it spins a few runtime turns),
//! except in a v2 window ping-pong.

mod common;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::pattern;
use smux::frame::Frame;
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
    /// Kept when the script is used up, so that the session sleeps (nothing wakes it).
    parked: Option<Waker>,
    /// Reads after the script was used up.
    idle_polls: usize,
}

/// A transport that reads what the script says and takes (and drops) whatever is written.
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
                s.idle_polls += 1;
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
}

fn encode(version: u8, frames: &[Frame]) -> Vec<u8> {
    let mut b = BytesMut::new();
    for f in frames {
        f.encode(version, &mut b);
    }
    b.to_vec()
}

fn psh(data: &[u8]) -> Frame {
    Frame::Psh {
        sid: 3,
        data: Bytes::copy_from_slice(data),
    }
}

/// A server session over `io` with keepalive off (nothing but the script drives it).
fn server(io: Scripted, version: u8) -> Session {
    let cfg = Config {
        version,
        keep_alive_disabled: true,
        ..Config::default()
    };
    Session::server(io, cfg).unwrap()
}

/// Accepts stream 3 and reads `data` from it, bounded by a (virtual) minute.
async fn read_through(server: &Session, data: &[u8], what: &str) {
    let mut s = server.accept_stream().await.unwrap();
    let mut got = vec![0u8; data.len()];
    tokio::time::timeout(Duration::from_secs(60), s.read_exact(&mut got))
        .await
        .expect(what)
        .unwrap();
    assert_eq!(got, data);
}

/// After a bulk read the driver looks at the transport again without being woken: here the second
/// part of the data is never announced, so without that the stream would wait forever (the paused
/// clock runs the timeout at once when nothing else can run).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn driver_reads_on_after_bulk_data_without_a_wakeup() {
    let data = pattern(3, 41_000);
    let first = encode(1, &[Frame::Syn { sid: 3 }, psh(&data[..40_000])]);
    let second = encode(1, &[psh(&data[40_000..])]);
    let io = Scripted::new(vec![
        Read::Data(first),
        Read::SilentPending,
        Read::Data(second),
    ]);
    let server = server(io, 1);
    read_through(
        &server,
        &data,
        "the data after the unannounced pause was read",
    )
    .await;
}

/// No spinning in a v2 window ping-pong: once the peer's window is used up it must wait for our UPD,
/// and spinning would only move the session's tasks between threads. The same data in v1 (no window)
/// has the driver look again a few times before it sleeps.
#[tokio::test(flavor = "current_thread")]
async fn no_spin_when_the_peer_window_is_used_up() {
    for version in [1u8, 2] {
        let data = pattern(5, 65536);
        let frames = encode(
            version,
            &[
                Frame::Syn { sid: 3 },
                psh(&data[..32768]),
                psh(&data[32768..]),
            ],
        );
        let io = Scripted::new(vec![Read::Data(frames)]);
        let server = server(io.clone(), version);
        let s = server.accept_stream().await.unwrap();
        // The application does not read: the 64 KiB fill the v2 window.
        for _ in 0..200 {
            tokio::task::yield_now().await;
        }
        assert_eq!(s.buffered().0, 65536);
        let idle_polls = io.0.lock().unwrap().idle_polls;
        if version == 2 {
            assert_eq!(idle_polls, 1, "v2: the driver went to sleep at once");
        } else {
            assert!(
                idle_polls > 1,
                "v1: the driver looked again before sleeping"
            );
        }
    }
}

/// A spin that finds nothing makes the next one shorter, down to none: a driver whose spins keep
/// finding nothing stops spinning.
#[tokio::test(flavor = "current_thread")]
async fn fruitless_spins_get_shorter() {
    let io = Scripted::new(vec![Read::Data(encode(1, &[Frame::Syn { sid: 3 }]))]);
    let server = server(io.clone(), 1);
    let mut s = server.accept_stream().await.unwrap();
    let chunk = pattern(7, 40_000);
    let mut got = vec![0u8; chunk.len()];
    let mut per_burst = Vec::new();
    for _ in 0..20 {
        let waker = {
            let mut st = io.0.lock().unwrap();
            st.idle_polls = 0;
            st.reads.push_back(Read::Data(encode(1, &[psh(&chunk)])));
            st.parked
                .take()
                .expect("the driver waits for the transport")
        };
        waker.wake();
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, chunk);
        // Let the driver spin out and sleep (nothing else will come).
        for _ in 0..200 {
            tokio::task::yield_now().await;
        }
        per_burst.push(io.0.lock().unwrap().idle_polls);
    }
    assert!(per_burst[0] > 8, "the first burst spins: {per_burst:?}");
    assert!(
        per_burst.windows(2).all(|w| w[1] <= w[0]),
        "spins never get longer without data: {per_burst:?}"
    );
    assert_eq!(
        *per_burst.last().unwrap(),
        1,
        "after fruitless spins the driver sleeps at once: {per_burst:?}"
    );
}

/// While data keeps coming, in however small pieces (a spinning reader catches the sender's writes
/// early), the driver keeps spinning: here 40 unannounced pieces follow a bulk read, each after a
/// `Pending`, more than one spin's turns in all.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spin_goes_on_while_data_trickles_in() {
    let data = pattern(9, 40_000 + 40 * 1000);
    let mut reads = vec![Read::Data(encode(
        1,
        &[Frame::Syn { sid: 3 }, psh(&data[..40_000])],
    ))];
    for piece in data[40_000..].chunks(1000) {
        reads.push(Read::SilentPending);
        reads.push(Read::Data(encode(1, &[psh(piece)])));
    }
    let server = server(Scripted::new(reads), 1);
    read_through(&server, &data, "every piece was read without a wake-up").await;
}

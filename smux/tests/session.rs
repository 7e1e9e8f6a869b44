//! Session and stream behaviour over `tokio::io::duplex` and TCP loopback.

mod common;

use std::time::Duration;

use common::*;
use smux::{Config, Error, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn stream_ids_follow_smux() {
    let (c, s) = pair(1, false).await;
    let a = c.open_stream().await.unwrap();
    let b = c.open_stream().await.unwrap();
    assert_eq!((a.id(), b.id()), (3, 5));
    let x = s.open_stream().await.unwrap();
    let y = s.open_stream().await.unwrap();
    assert_eq!((x.id(), y.id()), (2, 4));
    let a2 = s.accept_stream().await.unwrap();
    assert_eq!(a2.id(), 3);
    let x2 = c.accept_stream().await.unwrap();
    assert_eq!(x2.id(), 2);
}

async fn echo_roundtrip(version: u8, tcp: bool) {
    let (c, s) = pair(version, tcp).await;
    let server = tokio::spawn(async move {
        let mut t = s.accept_stream().await.unwrap();
        let mut buf = Vec::new();
        t.read_to_end(&mut buf).await.unwrap();
        t.write_all(&buf).await.unwrap();
        t.shutdown().await.unwrap();
        s
    });
    let mut st = c.open_stream().await.unwrap();
    let data = pattern(1, 1_000_000);
    st.write_all(&data).await.unwrap();
    st.shutdown().await.unwrap();
    let mut back = Vec::new();
    st.read_to_end(&mut back).await.unwrap();
    assert!(back == data, "echo differs");
    let _s = server.await.unwrap();
}

#[tokio::test]
async fn echo_v1_duplex() {
    echo_roundtrip(1, false).await;
}
#[tokio::test]
async fn echo_v2_duplex() {
    echo_roundtrip(2, false).await;
}
#[tokio::test]
async fn echo_v1_tcp() {
    echo_roundtrip(1, true).await;
}
#[tokio::test]
async fn echo_v2_tcp() {
    echo_roundtrip(2, true).await;
}

/// Many concurrent streams, each moving checksummed data both ways, for both versions and transports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_checksummed() {
    for (version, tcp) in [(1, false), (2, false), (1, true), (2, true)] {
        let (c, s) = pair(version, tcp).await;
        let server = tokio::spawn(async move {
            let mut tasks = Vec::new();
            for _ in 0..64 {
                let mut t = s.accept_stream().await.unwrap();
                tasks.push(tokio::spawn(async move {
                    let (n, crc) = read_crc(&mut t).await;
                    let id = t.id();
                    let out = write_pattern(&mut t, id, n / 2, 7000).await;
                    t.shutdown().await.unwrap();
                    (t.id(), n, crc, out)
                }));
            }
            let mut res = Vec::new();
            for t in tasks {
                res.push(t.await.unwrap());
            }
            (s, res)
        });
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let mut st = c.open_stream().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let len = 10_000 + i as usize * 3001;
                let crc = write_pattern(&mut st, i, len, 4096 + i as usize).await;
                st.shutdown().await.unwrap();
                let (n, back) = read_crc(&mut st).await;
                (st.id(), len, crc, n, back)
            }));
        }
        let mut sent = Vec::new();
        for t in tasks {
            sent.push(t.await.unwrap());
        }
        let (_s, got) = server.await.unwrap();
        for (id, len, crc, n_back, crc_back) in sent {
            let (_, n, crc_srv, crc_out) = got.iter().find(|g| g.0 == id).copied().unwrap();
            assert_eq!(
                (n, crc_srv),
                (len, crc),
                "client->server data of stream {id}"
            );
            assert_eq!(
                (n_back, crc_back),
                (len / 2, crc_out),
                "server->client data of stream {id}"
            );
        }
    }
}

/// Half-close in both orders: the side that sends FIN first can still read, the other can still write.
#[tokio::test]
async fn half_close_both_orders() {
    for version in [1u8, 2] {
        for tcp in [false, true] {
            let (c, s) = pair(version, tcp).await;
            // Client finishes first.
            let mut a = c.open_stream().await.unwrap();
            a.write_all(b"request").await.unwrap();
            a.shutdown().await.unwrap();
            let mut b = s.accept_stream().await.unwrap();
            let mut req = Vec::new();
            b.read_to_end(&mut req).await.unwrap();
            assert_eq!(req, b"request");
            assert!(
                a.write_all(b"x").await.is_err(),
                "write after shutdown must fail"
            );
            b.write_all(b"response after peer FIN").await.unwrap();
            b.shutdown().await.unwrap();
            let mut resp = Vec::new();
            a.read_to_end(&mut resp).await.unwrap();
            assert_eq!(resp, b"response after peer FIN");
            // Server finishes first.
            let mut a = c.open_stream().await.unwrap();
            a.write_all(b"hi").await.unwrap();
            let mut b = s.accept_stream().await.unwrap();
            b.write_all(b"server says bye").await.unwrap();
            b.shutdown().await.unwrap();
            let mut got = Vec::new();
            a.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"server says bye");
            a.write_all(b" and client replies").await.unwrap();
            a.shutdown().await.unwrap();
            let mut rest = Vec::new();
            b.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, b"hi and client replies");
        }
    }
}

/// v2: one stream's reader is paused while another stream moves 100 MiB. The other stream completes, the
/// paused stream never holds more than the peer's window, and the session stays within its buffers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_reader_does_not_stall_others_v2() {
    for tcp in [false, true] {
        let mut cfg = cfg(2);
        cfg.max_receive_buffer = 1024 * 1024;
        cfg.max_stream_buffer = 128 * 1024;
        let (c, s) = pair_cfg(cfg.clone(), cfg.clone(), tcp).await;
        let mut slow = c.open_stream().await.unwrap();
        let mut fast = c.open_stream().await.unwrap();
        const SLOW: usize = 8 * 1024 * 1024;
        const FAST: usize = 100 * 1024 * 1024;
        let slow_writer = tokio::spawn(async move {
            let crc = write_pattern(&mut slow, 1, SLOW, 32 * 1024).await;
            slow.shutdown().await.unwrap();
            (slow, crc)
        });
        let fast_writer = tokio::spawn(async move {
            let crc = write_pattern(&mut fast, 2, FAST, 32 * 1024).await;
            fast.shutdown().await.unwrap();
            (fast, crc)
        });
        let mut paused = s.accept_stream().await.unwrap();
        let mut moving = s.accept_stream().await.unwrap();
        assert_eq!((paused.id(), moving.id()), (3, 5));
        // Read the moving stream to the end, checking the buffers at every read.
        let limit_session = cfg.max_receive_buffer + 65535;
        let limit_stream = cfg.max_stream_buffer.max(262_144);
        let mut h = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        let mut max_seen = 0;
        loop {
            let n = moving.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            total += n;
            let st = s.stats();
            max_seen = max_seen.max(st.recv_buffered);
            assert!(
                st.recv_buffered <= limit_session,
                "session buffered {} > {limit_session}",
                st.recv_buffered
            );
            assert!(
                paused.buffered().0 <= limit_stream,
                "paused stream holds {}",
                paused.buffered().0
            );
        }
        let (_fast, crc) = fast_writer.await.unwrap();
        assert_eq!((total, h.finalize()), (FAST, crc));
        assert!(
            !slow_writer.is_finished(),
            "the paused stream cannot have been fully sent"
        );
        // Now drain the paused stream: all of its data arrives intact.
        let (n, crc) = read_crc(&mut paused).await;
        let (_slow, slow_crc) = slow_writer.await.unwrap();
        assert_eq!((n, crc), (SLOW, slow_crc));
        println!("tcp={tcp}: max session buffered {max_seen} bytes");
    }
}

/// v1 has no per-stream flow control: a paused reader lets the session fill up to its receive buffer
/// and then the session stops reading, so memory stays bounded. Nothing is lost once reading resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_reader_memory_bounded_v1() {
    for tcp in [false, true] {
        let mut cfg = cfg(1);
        cfg.max_receive_buffer = 1024 * 1024;
        let (c, s) = pair_cfg(cfg.clone(), cfg.clone(), tcp).await;
        let mut st = c.open_stream().await.unwrap();
        const LEN: usize = 16 * 1024 * 1024;
        let writer = tokio::spawn(async move {
            let crc = write_pattern(&mut st, 9, LEN, 32 * 1024).await;
            st.shutdown().await.unwrap();
            (st, crc)
        });
        let mut paused = s.accept_stream().await.unwrap();
        wait_until(|| s.stats().read_paused, "server read paused on the bucket").await;
        let st = s.stats();
        assert!(st.bucket <= 0);
        assert!(
            st.recv_buffered <= cfg.max_receive_buffer + 65535,
            "buffered {}",
            st.recv_buffered
        );
        // Unparsed transport bytes: at most one read chunk (256 KiB) plus a partial frame.
        assert!(
            st.read_buffered <= 256 * 1024 + 65535 + 8,
            "read buffer {}",
            st.read_buffered
        );
        // Queued payloads are slices of read buffers; the buffers they hold alive stay bounded too.
        assert!(
            st.recv_pinned <= cfg.max_receive_buffer + 1024 * 1024,
            "pinned {}",
            st.recv_pinned
        );
        assert!(c.stats().send_buffered <= cfg.stream_send_buffer);
        let (n, crc) = read_crc(&mut paused).await;
        let (_st, sent) = writer.await.unwrap();
        assert_eq!((n, crc), (LEN, sent));
        assert_eq!(s.stats().recv_buffered, 0);
    }
}

/// Received payloads are slices of the session's read buffers, so a paused stream holding 1 KiB of
/// every read buffer would keep all of them alive. The session bounds the read buffers held this way
/// (copying payloads out beyond the bound), and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_small_payloads_do_not_pin_read_buffers() {
    for tcp in [false, true] {
        let mut cfg = cfg(1);
        cfg.max_receive_buffer = 1024 * 1024;
        let limit = cfg.max_receive_buffer + 1024 * 1024;
        let (c, s) = pair_cfg(cfg.clone(), cfg.clone(), tcp).await;
        let mut slow = c.open_stream().await.unwrap();
        let mut fast = c.open_stream().await.unwrap();
        const ROUNDS: usize = 512;
        const CHUNK: usize = 64 * 1024;
        const SMALL: usize = 1024;
        // One task alternates: 1 KiB on the paused stream (above the size that is always copied),
        // 64 KiB on the moving one.
        let writer = tokio::spawn(async move {
            let small = pattern(5, SMALL * ROUNDS);
            let big = pattern(6, CHUNK);
            let (mut hs, mut hf) = (crc32fast::Hasher::new(), crc32fast::Hasher::new());
            for i in 0..ROUNDS {
                let piece = &small[i * SMALL..(i + 1) * SMALL];
                slow.write_all(piece).await.unwrap();
                slow.flush().await.unwrap();
                fast.write_all(&big).await.unwrap();
                hs.update(piece);
                hf.update(&big);
            }
            slow.shutdown().await.unwrap();
            fast.shutdown().await.unwrap();
            (slow, fast, hs.finalize(), hf.finalize())
        });
        let mut paused = s.accept_stream().await.unwrap();
        let mut moving = s.accept_stream().await.unwrap();
        let mut max_pinned = 0;
        let got = read_crc_each(&mut moving, || {
            let pinned = s.stats().recv_pinned;
            max_pinned = max_pinned.max(pinned);
            assert!(pinned <= limit, "pinned {pinned} > {limit}");
        })
        .await;
        let (_slow, _fast, slow_crc, fast_crc) = writer.await.unwrap();
        assert_eq!(got, (ROUNDS * CHUNK, fast_crc));
        assert!(paused.buffered().0 > 0);
        let (n, crc) = read_crc(&mut paused).await;
        assert_eq!((n, crc), (SMALL * ROUNDS, slow_crc));
        assert_eq!(s.stats().recv_pinned, 0);
        println!("tcp={tcp}: max pinned {max_pinned} bytes");
    }
}

/// 10,000 streams opened, used and closed: nothing is left behind on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_streams_leave_nothing_behind() {
    for version in [1u8, 2] {
        let (c, s) = pair(version, true).await;
        let server = tokio::spawn(async move {
            let mut handlers = Vec::new();
            for _ in 0..10_000 {
                let mut t = s.accept_stream().await.unwrap();
                handlers.push(tokio::spawn(async move {
                    let mut b = Vec::new();
                    t.read_to_end(&mut b).await.unwrap();
                    t.write_all(&b).await.unwrap();
                }));
            }
            for h in handlers {
                h.await.unwrap();
            }
            s
        });
        let c = std::sync::Arc::new(c);
        let mut workers = Vec::new();
        for w in 0..100u64 {
            let c = c.clone();
            workers.push(tokio::spawn(async move {
                for i in 0..100u64 {
                    let mut st = c.open_stream().await.unwrap();
                    let msg = (w * 1000 + i).to_le_bytes();
                    st.write_all(&msg).await.unwrap();
                    st.shutdown().await.unwrap();
                    let mut back = Vec::new();
                    st.read_to_end(&mut back).await.unwrap();
                    assert_eq!(back, msg);
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let s = server.await.unwrap();
        // Every server stream sent its FIN before the client could see EOF, so both sides are empty now.
        for (name, st) in [("client", c.stats()), ("server", s.stats())] {
            assert_eq!(st.streams, 0, "{name} streams");
            assert_eq!(st.accept_backlog, 0, "{name} backlog");
            assert_eq!(st.recv_buffered, 0, "{name} recv");
            assert_eq!(st.send_buffered, 0, "{name} send");
            assert_eq!(
                st.bucket,
                c.config().max_receive_buffer as i64,
                "{name} bucket"
            );
            assert_eq!(st.tasks, 1, "{name} tasks: only the driver");
        }
        assert!(c.stats().frames_out >= 30_000);
        c.close().await;
        s.wait_finished().await;
        assert_eq!(c.stats().tasks, 0);
        assert_eq!(s.stats().tasks, 0);
    }
}

/// Large writes are split into frames of at most max_frame_size, v2 sends UPD after the first read.
#[tokio::test]
async fn wire_framing_and_first_upd() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let mut cfg = cfg(2);
    cfg.max_frame_size = 1000;
    cfg.keep_alive_disabled = true;
    let sess = Session::server(a, cfg).unwrap();
    // Peer opens sid 3 and sends 12 bytes.
    raw.write_all(&[2, 0, 0, 0, 3, 0, 0, 0]).await.unwrap();
    raw.write_all(&[2, 2, 12, 0, 3, 0, 0, 0]).await.unwrap();
    raw.write_all(b"hello kcptun").await.unwrap();
    let mut st = sess.accept_stream().await.unwrap();
    let mut buf = [0u8; 12];
    st.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello kcptun");
    // First read of 12 bytes -> UPD consumed=12 window=65536.
    let mut upd = [0u8; 16];
    raw.read_exact(&mut upd).await.unwrap();
    assert_eq!(upd, [2, 4, 8, 0, 3, 0, 0, 0, 12, 0, 0, 0, 0, 0, 1, 0]);
    // 2500 bytes go out as 1000 + 1000 + 500.
    st.write_all(&pattern(0, 2500)).await.unwrap();
    st.flush().await.unwrap();
    let mut got = Vec::new();
    for want in [1000u16, 1000, 500] {
        let mut h = [0u8; 8];
        raw.read_exact(&mut h).await.unwrap();
        assert_eq!(h[..2], [2, 2]);
        assert_eq!(u16::from_le_bytes([h[2], h[3]]), want);
        assert_eq!(u32::from_le_bytes([h[4], h[5], h[6], h[7]]), 3);
        let mut p = vec![0u8; want as usize];
        raw.read_exact(&mut p).await.unwrap();
        got.extend_from_slice(&p);
    }
    assert_eq!(got, pattern(0, 2500));
    st.shutdown().await.unwrap();
    let mut fin = [0u8; 8];
    raw.read_exact(&mut fin).await.unwrap();
    assert_eq!(fin, [2, 1, 0, 0, 3, 0, 0, 0]);
}

/// No wake-up is lost between a stream queueing data and the driver writing it, even when the transport
/// keeps taking only part of a batch (a batch then outlives the driver poll that gathered it). Keepalive is
/// off, so nothing periodic could revive a stalled session: with virtual time, a stall runs into the
/// timeout at once.
#[tokio::test(start_paused = true)]
async fn no_stall_when_batches_outlive_a_poll() {
    for version in [1, 2] {
        let mut cfg = cfg(version);
        cfg.keep_alive_disabled = true;
        let (a, b) = tokio::io::duplex(3000);
        let c = Session::client(a, cfg.clone()).unwrap();
        let s = Session::server(b, cfg).unwrap();
        let mut st = c.open_stream().await.unwrap();
        const LEN: usize = 2 * 1024 * 1024;
        let writer = tokio::spawn(async move {
            let crc = write_pattern(&mut st, 11, LEN, 20_000).await;
            st.shutdown().await.unwrap();
            (st, crc)
        });
        let transfer = async {
            let mut t = s.accept_stream().await.unwrap();
            read_crc(&mut t).await
        };
        let got = tokio::time::timeout(Duration::from_secs(3600), transfer)
            .await
            .expect("transfer stalled");
        let (_st, sent) = writer.await.unwrap();
        assert_eq!(got, (LEN, sent), "v{version}");
    }
}

/// v2: a stream closed before the driver wrote its UPD sends FIN without the UPD (after Close it takes no
/// more data); a stream still open gets its UPD as usual.
#[tokio::test]
async fn v2_closed_stream_sends_no_upd() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let mut cfg = cfg(2);
    cfg.keep_alive_disabled = true;
    let sess = Session::server(a, cfg).unwrap();
    raw.write_all(&[2, 0, 0, 0, 3, 0, 0, 0]).await.unwrap();
    raw.write_all(&[2, 2, 4, 0, 3, 0, 0, 0]).await.unwrap();
    raw.write_all(b"ping").await.unwrap();
    let mut st = sess.accept_stream().await.unwrap();
    let mut buf = [0u8; 4];
    // The read queues the first UPD; the stream is dropped before the driver task (same thread) runs.
    st.read_exact(&mut buf).await.unwrap();
    drop(st);
    let mut h = [0u8; 8];
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [2, 1, 0, 0, 3, 0, 0, 0], "FIN, no UPD before it");
    // A stream that stays open gets its UPD (consumed 4, window 65536).
    raw.write_all(&[2, 0, 0, 0, 5, 0, 0, 0]).await.unwrap();
    raw.write_all(&[2, 2, 4, 0, 5, 0, 0, 0]).await.unwrap();
    raw.write_all(b"pong").await.unwrap();
    let mut st = sess.accept_stream().await.unwrap();
    st.read_exact(&mut buf).await.unwrap();
    let mut upd = [0u8; 16];
    raw.read_exact(&mut upd).await.unwrap();
    assert_eq!(upd, [2, 4, 8, 0, 5, 0, 0, 0, 4, 0, 0, 0, 0, 0, 1, 0]);
    drop(st);
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [2, 1, 0, 0, 5, 0, 0, 0]);
}

/// v2: writes made while the peer's window is shut (a small one, or a full send buffer waiting) are sent
/// once UPDs open it, in order and no more than each window allows. (Virtual time: a stall would run into
/// the timeout at once.)
#[tokio::test(start_paused = true)]
async fn v2_writes_while_window_shut_resume_on_upd() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let mut cfg = cfg(2);
    cfg.keep_alive_disabled = true;
    cfg.stream_send_buffer = 4096;
    let sess = Session::client(a, cfg).unwrap();
    let mut st = sess.open_stream().await.unwrap();
    let mut h = [0u8; 8];
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [2, 0, 0, 0, 3, 0, 0, 0]);
    let upd = |consumed: u32, window: u32| {
        let mut f = vec![2, 4, 8, 0, 3, 0, 0, 0];
        f.extend_from_slice(&consumed.to_le_bytes());
        f.extend_from_slice(&window.to_le_bytes());
        f
    };
    // Window shut: nothing consumed, nothing offered.
    raw.write_all(&upd(0, 0)).await.unwrap();
    wait_until(|| sess.stats().frames_in == 1, "UPD processed").await;
    let data = pattern(21, 10_000);
    let writer = tokio::spawn(async move {
        st.write_all(&data).await.unwrap();
        st.flush().await.unwrap();
        st
    });
    // The send buffer fills (4096) and the writer waits; nothing goes out.
    wait_until(|| sess.stats().send_buffered == 4096, "send buffer full").await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(sess.stats().frames_out, 1, "only the SYN went out");
    // Each UPD lets exactly its window out, until all 10,000 bytes arrived in order.
    let mut got = Vec::new();
    let mut consumed = 0u32;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    while got.len() < 10_000 {
        raw.write_all(&upd(consumed, 3000)).await.unwrap();
        let mut window = 3000usize;
        while window > 0 && got.len() < 10_000 {
            tokio::time::timeout_at(deadline, raw.read_exact(&mut h))
                .await
                .expect("no data after the UPD")
                .unwrap();
            assert_eq!(h[..2], [2, 2]);
            let n = u16::from_le_bytes([h[2], h[3]]) as usize;
            assert!(
                n <= window,
                "frame of {n} beyond the window left ({window})"
            );
            let mut p = vec![0u8; n];
            raw.read_exact(&mut p).await.unwrap();
            got.extend_from_slice(&p);
            window -= n;
        }
        consumed = got.len() as u32;
    }
    assert_eq!(got, pattern(21, 10_000));
    let _st = writer.await.unwrap();
}

/// v2 sender respects the peer's window and resumes on UPD.
#[tokio::test]
async fn v2_sender_waits_for_window() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let mut cfg = cfg(2);
    cfg.keep_alive_disabled = true;
    let sess = Session::client(a, cfg).unwrap();
    let mut st = sess.open_stream().await.unwrap();
    let mut syn = [0u8; 8];
    raw.read_exact(&mut syn).await.unwrap();
    assert_eq!(syn, [2, 0, 0, 0, 3, 0, 0, 0]);
    // Peer advertises a 1000-byte window having consumed nothing.
    let mut upd = vec![2, 4, 8, 0, 3, 0, 0, 0];
    upd.extend_from_slice(&0u32.to_le_bytes());
    upd.extend_from_slice(&1000u32.to_le_bytes());
    raw.write_all(&upd).await.unwrap();
    wait_until(|| sess.stats().frames_in == 1, "UPD processed").await;
    st.write_all(&pattern(5, 3000)).await.unwrap();
    let mut h = [0u8; 8];
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(u16::from_le_bytes([h[2], h[3]]), 1000);
    let mut p = vec![0u8; 1000];
    raw.read_exact(&mut p).await.unwrap();
    // Nothing more until the window opens.
    wait_until(|| sess.stats().send_buffered == 2000, "window blocks").await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(sess.stats().send_buffered, 2000);
    let mut upd = vec![2, 4, 8, 0, 3, 0, 0, 0];
    upd.extend_from_slice(&1000u32.to_le_bytes());
    upd.extend_from_slice(&5000u32.to_le_bytes());
    raw.write_all(&upd).await.unwrap();
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(u16::from_le_bytes([h[2], h[3]]), 2000);
    // A peer claiming to have consumed more than was sent makes the next write fail.
    let mut upd = vec![2, 4, 8, 0, 3, 0, 0, 0];
    upd.extend_from_slice(&9000u32.to_le_bytes());
    upd.extend_from_slice(&5000u32.to_le_bytes());
    raw.write_all(&upd).await.unwrap();
    let mut p = vec![0u8; 2000];
    raw.read_exact(&mut p).await.unwrap();
    wait_until(|| sess.stats().frames_in == 3, "second UPD processed").await;
    st.write_all(b"x").await.unwrap();
    let e = st.flush().await.unwrap_err();
    assert!(e.to_string().contains("consumed"), "{e}");
}

async fn bad_peer(bytes: &[u8], cfg: Config, want: Error) {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let sess = Session::server(a, cfg).unwrap();
    // A good stream first, whose pending read must see the error.
    raw.write_all(&[sess.config().version, 0, 0, 0, 3, 0, 0, 0])
        .await
        .unwrap();
    let mut st = sess.accept_stream().await.unwrap();
    raw.write_all(bytes).await.unwrap();
    let mut buf = [0u8; 8];
    let e = st.read(&mut buf).await.unwrap_err();
    assert_eq!(
        e.into_inner()
            .unwrap()
            .downcast::<Error>()
            .unwrap()
            .as_ref(),
        &want
    );
    assert_eq!(sess.accept_stream().await.unwrap_err(), want);
    sess.wait_finished().await;
    assert_eq!(sess.error(), Some(want));
}

#[tokio::test]
async fn bad_version_ends_session_with_named_error() {
    bad_peer(
        &[2, 3, 0, 0, 0, 0, 0, 0],
        cfg(1),
        Error::BadVersion {
            expected: 1,
            got: 2,
        },
    )
    .await;
    bad_peer(
        &[1, 3, 0, 0, 0, 0, 0, 0],
        cfg(2),
        Error::BadVersion {
            expected: 2,
            got: 1,
        },
    )
    .await;
}

#[tokio::test]
async fn unknown_command_ends_session_with_named_error() {
    bad_peer(&[1, 5, 0, 0, 3, 0, 0, 0], cfg(1), Error::UnknownCommand(5)).await;
    bad_peer(
        &[2, 0xff, 0, 0, 3, 0, 0, 0],
        cfg(2),
        Error::UnknownCommand(255),
    )
    .await;
}

#[tokio::test]
async fn oversize_frame_ends_session_with_named_error() {
    let mut c = cfg(1);
    c.max_receive_frame_size = 4096;
    bad_peer(
        &[1, 2, 0x01, 0x10, 3, 0, 0, 0],
        c,
        Error::OversizeFrame {
            length: 4097,
            max: 4096,
        },
    )
    .await;
}

#[tokio::test]
async fn transport_eof_ends_session() {
    let (a, raw) = tokio::io::duplex(1 << 16);
    let sess = Session::client(a, cfg(1)).unwrap();
    drop(raw);
    assert_eq!(sess.accept_stream().await.unwrap_err(), Error::TransportEof);
}

/// Keepalive: NOPs on the interval; silence for the timeout ends the session and every stream sees it.
#[tokio::test(start_paused = true)]
async fn keepalive_nops_and_timeout() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let sess = Session::client(a, cfg(1)).unwrap();
    let mut st = sess.open_stream().await.unwrap();
    let t0 = tokio::time::Instant::now();
    let mut h = [0u8; 8];
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [1, 0, 0, 0, 3, 0, 0, 0]);
    raw.read_exact(&mut h).await.unwrap();
    assert_eq!(h, [1, 3, 0, 0, 0, 0, 0, 0], "NOP");
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    let mut buf = [0u8; 4];
    let e = st.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    assert_eq!(sess.error(), Some(Error::KeepaliveTimeout));
    assert_eq!(
        sess.accept_stream().await.unwrap_err(),
        Error::KeepaliveTimeout
    );
}

/// After a transfer, an idle session gives its read buffers back at the next keepalive tick.
#[tokio::test(start_paused = true)]
async fn idle_session_releases_read_buffers() {
    let (c, s) = pair(1, false).await;
    let mut st = c.open_stream().await.unwrap();
    let writer = tokio::spawn(async move {
        let crc = write_pattern(&mut st, 3, 4 * 1024 * 1024, 32 * 1024).await;
        st.shutdown().await.unwrap();
        (st, crc)
    });
    let mut t = s.accept_stream().await.unwrap();
    let (n, crc) = read_crc(&mut t).await;
    let (_st, sent) = writer.await.unwrap();
    assert_eq!((n, crc), (4 * 1024 * 1024, sent));
    assert!(
        s.stats().read_buffers > 0,
        "the transfer used a read buffer"
    );
    assert_eq!(s.stats().recv_pinned, 0);
    // Two keepalive ticks: spares unused since the first one go at the second.
    tokio::time::sleep(Duration::from_secs(11)).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let st = s.stats();
    assert!(
        st.read_buffers <= 4096,
        "idle session holds {} bytes of read buffers",
        st.read_buffers
    );
    assert!(s.error().is_none());
}

/// Frames arriving keep the session alive past the timeout.
#[tokio::test(start_paused = true)]
async fn keepalive_traffic_keeps_session_alive() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let c = Session::client(a, cfg(1)).unwrap();
    let s = Session::server(b, cfg(1)).unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await; // virtual time: both sides exchange NOPs
    assert!(!c.is_closed() && !s.is_closed());
    assert!(c.stats().frames_in >= 10);
}

/// Ours: the open-streams limit refuses extra SYNs with FIN; the idle timeout closes silent streams.
#[tokio::test(start_paused = true)]
async fn stream_limit_and_idle_timeout() {
    let mut sc = cfg(1);
    sc.max_streams = 4;
    sc.idle_stream_timeout = Some(Duration::from_secs(60));
    let (c, s) = pair_cfg(cfg(1), sc, false).await;
    let mut opened = Vec::new();
    for _ in 0..6 {
        opened.push(c.open_stream().await.unwrap());
    }
    let mut accepted = Vec::new();
    for _ in 0..4 {
        accepted.push(s.accept_stream().await.unwrap());
    }
    // The 5th and 6th were refused: the client reads EOF on them at once.
    let mut buf = [0u8; 1];
    assert_eq!(opened[4].read(&mut buf).await.unwrap(), 0);
    assert_eq!(opened[5].read(&mut buf).await.unwrap(), 0);
    assert_eq!(s.stats().refused_streams, 2);
    assert_eq!(s.stats().streams, 4);
    // Idle: after the timeout the server closes the streams; the client sees FIN, the server sees errors.
    assert_eq!(opened[0].read(&mut buf).await.unwrap(), 0);
    let e = accepted[0].read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(s.stats().idle_closed, 4);
    drop(accepted);
    assert_eq!(s.stats().streams, 0);
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let (a, _b) = tokio::io::duplex(16);
    let mut c = cfg(3);
    assert!(matches!(
        Session::client(a, c.clone()),
        Err(Error::InvalidConfig(_))
    ));
    c.version = 1;
    c.keep_alive_timeout = Duration::from_secs(1);
    let (a, _b) = tokio::io::duplex(16);
    assert!(matches!(
        Session::server(a, c),
        Err(Error::InvalidConfig(_))
    ));
}

#[tokio::test]
async fn close_fails_streams_and_ends_driver() {
    let (c, s) = pair(2, true).await;
    let mut st = c.open_stream().await.unwrap();
    st.write_all(b"abc").await.unwrap();
    let mut t = s.accept_stream().await.unwrap();
    c.close().await;
    assert_eq!(c.stats().tasks, 0);
    assert!(st.write_all(b"more").await.is_err());
    let mut got = Vec::new();
    // The server gets the data already sent, then the transport closes under it.
    let r = t.read_to_end(&mut got).await;
    assert_eq!(&got, b"abc");
    assert!(r.is_err());
    s.wait_finished().await;
    assert_eq!(s.error(), Some(Error::TransportEof));
}

#[tokio::test]
async fn dropping_everything_ends_the_driver() {
    let (c, s) = pair(1, false).await;
    let st = c.open_stream().await.unwrap();
    drop(st);
    drop(c);
    s.wait_finished().await;
    assert_eq!(s.stats().tasks, 0);
}

/// As smux: a failed transport write does not cut off what the peer sent before it went away.
#[tokio::test]
async fn write_error_still_delivers_received_frames() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let sess = Session::server(a, cfg(1)).unwrap();
    raw.write_all(&[
        1, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3, 0, 3, 0, 0, 0, b'b', b'y', b'e', 1, 1, 0, 0, 3, 0, 0, 0,
    ])
    .await
    .unwrap();
    let mut st = sess.accept_stream().await.unwrap();
    drop(raw);
    // Writing now fails (the peer is gone) ...
    let _ = st.write_all(b"too late").await;
    let _ = st.flush().await;
    // ... but the data and FIN that arrived before are still read, then EOF.
    let mut got = Vec::new();
    st.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
    sess.wait_finished().await;
    assert!(sess.error().is_some());
}

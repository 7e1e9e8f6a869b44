//! Hostile and broken peers: random and mutated byte streams never panic the session, never make it
//! buffer more than configured, and end it with an error (or EOF) that names what was wrong.

use smux::{Config, Error, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Small deterministic generator (xorshift64*), so failures reproduce from the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A stream of mostly well-formed frames with occasional corruption.
fn hostile_bytes(rng: &mut Rng, version: u8, frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..frames {
        let sid = 1 + rng.below(40) as u32;
        // Mostly valid commands; one frame in a few hundred carries a random command byte.
        let cmd = match rng.below(400) {
            0 => rng.below(256) as u8,
            x => match x % 19 {
                0..=3 => 0u8,
                4..=5 => 1,
                6..=14 => 2,
                15..=16 => 3,
                _ => 4,
            },
        };
        let len: u16 = if cmd == 2 {
            rng.below(3000) as u16
        } else if cmd == 4 {
            8
        } else {
            rng.below(3) as u16
        };
        let ver = if rng.below(1000) == 0 {
            rng.below(256) as u8
        } else {
            version
        };
        out.extend_from_slice(&[ver, cmd]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&sid.to_le_bytes());
        let body = match cmd {
            2 => len as usize,
            4 => 8,
            _ => 0,
        };
        for _ in 0..body {
            out.push(rng.next() as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_frames_never_panic_and_stay_bounded() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed * 0x9E37_79B9_7F4A_7C15);
        let version = 1 + (seed % 2) as u8;
        let cfg = Config {
            version,
            max_receive_buffer: 64 * 1024,
            max_stream_buffer: 32 * 1024,
            accept_backlog: 8,
            max_streams: 16,
            keep_alive_disabled: true,
            ..Config::default()
        };
        let t0 = std::time::Instant::now();
        let (a, mut raw) = tokio::io::duplex(1 << 16);
        let sess = Session::server(a, cfg.clone()).unwrap();
        let bytes = hostile_bytes(&mut rng, version, 400);
        let writer = tokio::spawn(async move {
            let _ = raw.write_all(&bytes).await;
            let _ = raw.shutdown().await; // the session then reads EOF, unless it ended before
            // Drain whatever the session sends back, until it goes away.
            let mut sink = vec![0u8; 4096];
            while let Ok(n) = raw.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        });
        // Accept every stream and read what is there without waiting.
        loop {
            let r = tokio::time::timeout(std::time::Duration::from_secs(10), sess.accept_stream())
                .await;
            let Ok(r) = r else {
                panic!("seed {seed}: stuck: {:?}", sess.stats())
            };
            let Ok(mut st) = r else { break };
            let st_stats = sess.stats();
            assert!(
                st_stats.recv_buffered <= cfg.max_receive_buffer + 65535,
                "seed {seed}: {st_stats:?}"
            );
            assert!(
                st_stats.streams <= cfg.max_streams,
                "seed {seed}: {st_stats:?}"
            );
            let mut b = [0u8; 100];
            // A zero timeout polls the read once.
            let _ = tokio::time::timeout(std::time::Duration::ZERO, st.read(&mut b)).await;
        }
        let err = sess.error().expect("the session ended");
        println!("seed {seed}: {err:?} after {:?}", t0.elapsed());
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "seed {seed}: a wakeup was lost"
        );
        assert!(
            matches!(
                err,
                Error::BadVersion { .. }
                    | Error::UnknownCommand(_)
                    | Error::TransportEof
                    | Error::SessionClosed
            ),
            "seed {seed}: {err:?}"
        );
        drop(sess);
        writer.await.unwrap();
    }
}

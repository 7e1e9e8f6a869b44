//! A UDP relay on real sockets that applies the seeded [`Link`] model between clients and one upstream server.
//!
//! Clients send to the relay's address; each client (by source address) gets its own upstream socket, as a NAT
//! would, and its own pair of links (client->server and server->client) seeded from the relay seed and the
//! client's index, so a run is reproducible given the same packet arrival order. Time is the wall clock in
//! microseconds since the relay started; delivery is driven by a timerfd, not tokio's timer, whose
//! millisecond wheel would deliver every packet up to 1 ms late.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use timerfd::{ClockId, SetTimeFlags, TimerFd, TimerState};
use tokio::io::unix::AsyncFd;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::link::{Link, LinkConfig, LinkStats, UDP_IPV4_OVERHEAD, UDP_IPV6_OVERHEAD};

/// What the relay does to traffic.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The server that clients reach through the relay.
    pub upstream: SocketAddr,
    /// Client -> server impairments.
    pub up: LinkConfig,
    /// Server -> client impairments.
    pub down: LinkConfig,
    /// RNG seed.
    pub seed: u64,
    /// Most clients at once; datagrams from further source addresses are dropped and counted.
    pub max_clients: usize,
    /// Socket send/receive buffer size in bytes.
    pub socket_buffer: usize,
}

impl RelayConfig {
    /// A relay to `upstream` with the given per-direction links and seed, 64 clients, 4 MiB socket buffers.
    /// The links' rate limits charge each datagram its IP and UDP headers too
    /// ([`LinkConfig::packet_overhead`], by the upstream's address family), as a real link would carry them.
    pub fn new(
        upstream: SocketAddr,
        mut up: LinkConfig,
        mut down: LinkConfig,
        seed: u64,
    ) -> RelayConfig {
        let overhead = if upstream.is_ipv4() {
            UDP_IPV4_OVERHEAD
        } else {
            UDP_IPV6_OVERHEAD
        };
        up.packet_overhead = overhead;
        down.packet_overhead = overhead;
        RelayConfig {
            upstream,
            up,
            down,
            seed,
            max_clients: 64,
            socket_buffer: 4 << 20,
        }
    }
}

/// A one-shot timer with the kernel's resolution (a non-blocking timerfd polled by tokio). Tokio's own
/// timer rounds every deadline up to the next millisecond: a relay driven by it delivers each packet 0 to
/// 1 ms late (1 ms per round trip on average), while the NFQUEUE path that delays TCP sleeps to the
/// microsecond, so the comparison would not be fair.
struct PreciseTimer {
    fd: AsyncFd<TimerFd>,
    /// The deadline set and not yet fired (re-arming it is a syscall; the relay's loop asks every turn).
    armed: Option<Instant>,
}

impl PreciseTimer {
    fn new() -> io::Result<PreciseTimer> {
        let fd = TimerFd::new_custom(ClockId::Monotonic, true, true)?;
        // `AsyncFd::new` is deprecated because an arbitrary `AsRawFd` may close or swap its descriptor while
        // registered; a `TimerFd` owns its descriptor for its whole life and the `AsyncFd` owns the
        // `TimerFd`, so that cannot happen here. (The replacement, `register`, is `unsafe`, which this crate
        // forbids.)
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(PreciseTimer { fd, armed: None })
    }

    /// Fires at `at` (at once if it has passed); replaces any earlier deadline.
    fn arm(&mut self, at: Instant) {
        if self.armed == Some(at) {
            return;
        }
        self.armed = Some(at);
        // A zero duration would disarm the timer.
        let after = at
            .saturating_duration_since(Instant::now())
            .max(std::time::Duration::from_micros(1));
        self.fd
            .get_mut()
            .set_state(TimerState::Oneshot(after), SetTimeFlags::Default);
    }

    /// Completes when the armed deadline has passed.
    async fn fired(&mut self) {
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                break;
            };
            if ready.get_inner().read() > 0 {
                break;
            }
            ready.clear_ready();
        }
        self.armed = None;
    }
}

/// Counters of a finished relay run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Client -> server link counters, summed over clients.
    pub up: LinkStats,
    /// Server -> client link counters, summed over clients.
    pub down: LinkStats,
    /// Clients seen.
    pub clients: usize,
    /// Datagrams dropped because `max_clients` was reached.
    pub refused: u64,
    /// Datagrams the kernel would not take on sending (socket buffer full) or that failed to send.
    pub send_errors: u64,
}

fn add(a: &mut LinkStats, b: &LinkStats) {
    a.sent += b.sent;
    a.sent_bytes += b.sent_bytes;
    a.delivered += b.delivered;
    a.lost += b.lost;
    a.queue_drops += b.queue_drops;
    a.blackholed += b.blackholed;
    a.duplicated += b.duplicated;
    a.corrupted += b.corrupted;
}

/// A UDP socket with large buffers, bound to `addr`.
pub fn udp_socket(addr: SocketAddr, buffer: usize) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = s.set_recv_buffer_size(buffer);
    let _ = s.set_send_buffer_size(buffer);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// A bound relay, ready to [`run`](Relay::run).
#[derive(Debug)]
pub struct Relay {
    sock: Arc<UdpSocket>,
    cfg: RelayConfig,
}

/// A running relay; [`finish`](RelayHandle::finish) stops it and returns its counters.
#[derive(Debug)]
pub struct RelayHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<io::Result<RelayStats>>,
}

impl RelayHandle {
    /// The address clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the relay and returns its counters.
    pub async fn finish(mut self) -> io::Result<RelayStats> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.done)
            .await
            .map_err(|_| io::Error::other("relay stopped without its counters"))?
    }
}

struct Inbound {
    /// `None`: from a client (at `peer`); `Some(i)`: from the upstream socket of client `i`.
    client: Option<usize>,
    peer: SocketAddr,
    data: Vec<u8>,
    at: Instant,
}

struct Client {
    addr: SocketAddr,
    sock: Arc<UdpSocket>,
    up: Link,
    down: Link,
    reader: JoinHandle<()>,
}

fn spawn_reader(
    sock: Arc<UdpSocket>,
    client: Option<usize>,
    tx: mpsc::Sender<Inbound>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, peer) = match sock.recv_from(&mut buf).await {
                Ok(x) => x,
                // ICMP port unreachable surfaces as ECONNREFUSED on Linux; the path goes on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(_) => return,
            };
            let ev = Inbound {
                client,
                peer,
                data: buf[..n].to_vec(),
                at: Instant::now(),
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    })
}

impl Relay {
    /// Binds the client-facing socket at `listen`.
    pub async fn bind(listen: SocketAddr, cfg: RelayConfig) -> io::Result<Relay> {
        let sock = Arc::new(udp_socket(listen, cfg.socket_buffer)?);
        Ok(Relay { sock, cfg })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Binds and runs the relay in a tokio task.
    pub async fn spawn(listen: SocketAddr, cfg: RelayConfig) -> io::Result<RelayHandle> {
        let relay = Relay::bind(listen, cfg).await?;
        let addr = relay.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        tokio::spawn(async move {
            let r = relay
                .run(async move {
                    let _ = rx.await;
                })
                .await;
            let _ = done_tx.send(r);
        });
        Ok(RelayHandle {
            addr,
            stop: Some(tx),
            done,
        })
    }

    /// Binds and runs the relay on a thread of its own (a single-threaded runtime), so that its timing
    /// does not depend on how busy the caller's runtime is: a fair path for a transport running in the same
    /// process as the relay and for one running in other processes alike. Blocks only until the relay's
    /// socket is bound, so it serves callers with or without a runtime. Dropping the handle stops the relay.
    pub fn spawn_thread(listen: SocketAddr, cfg: RelayConfig) -> io::Result<RelayHandle> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<io::Result<SocketAddr>>();
        let (tx, rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("netem-relay".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let relay = match Relay::bind(listen, cfg).await {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = addr_tx.send(relay.local_addr());
                    let r = relay
                        .run(async move {
                            let _ = rx.await;
                        })
                        .await;
                    let _ = done_tx.send(r);
                });
            })?;
        let addr = addr_rx
            .recv()
            .map_err(|_| io::Error::other("relay thread ended before binding"))??;
        Ok(RelayHandle {
            addr,
            stop: Some(tx),
            done,
        })
    }

    /// Relays until `stop` completes, then returns the counters.
    pub async fn run(self, stop: impl Future<Output = ()>) -> io::Result<RelayStats> {
        let start = Instant::now();
        let us = |t: Instant| t.saturating_duration_since(start).as_micros() as u64;
        let (tx, mut rx) = mpsc::channel::<Inbound>(8192);
        let main_reader = spawn_reader(self.sock.clone(), None, tx.clone());
        let mut clients: Vec<Client> = Vec::new();
        let mut by_addr: HashMap<SocketAddr, usize> = HashMap::new();
        let mut stats = RelayStats::default();
        let upstream_local: SocketAddr = if self.cfg.upstream.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(io::Error::other)?;
        tokio::pin!(stop);
        let mut timer = PreciseTimer::new()?;
        let mut batch = Vec::with_capacity(256);
        loop {
            let next = clients
                .iter()
                .flat_map(|c| [c.up.next_event_time(), c.down.next_event_time()])
                .flatten()
                .min();
            let wake = next.map(|t| start + std::time::Duration::from_micros(t));
            if let Some(at) = wake {
                timer.arm(at);
            }
            tokio::select! {
                biased;
                _ = &mut stop => break,
                n = rx.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        break;
                    }
                }
                _ = timer.fired(), if wake.is_some() => {}
            }
            for ev in batch.drain(..) {
                let t = us(ev.at);
                match ev.client {
                    Some(i) => {
                        if let Some(c) = clients.get_mut(i) {
                            c.down.send(t, ev.data);
                        }
                    }
                    None => {
                        let i = match by_addr.get(&ev.peer) {
                            Some(&i) => i,
                            None => {
                                if clients.len() >= self.cfg.max_clients {
                                    stats.refused += 1;
                                    continue;
                                }
                                let sock =
                                    Arc::new(udp_socket(upstream_local, self.cfg.socket_buffer)?);
                                sock.connect(self.cfg.upstream).await?;
                                let i = clients.len();
                                let seed = self.cfg.seed.wrapping_add((i as u64) << 32);
                                clients.push(Client {
                                    addr: ev.peer,
                                    reader: spawn_reader(sock.clone(), Some(i), tx.clone()),
                                    sock,
                                    up: Link::new(self.cfg.up.clone(), seed),
                                    down: Link::new(self.cfg.down.clone(), seed ^ 0x5bd1_e995),
                                });
                                by_addr.insert(ev.peer, i);
                                i
                            }
                        };
                        clients[i].up.send(t, ev.data);
                    }
                }
            }
            let now = us(Instant::now());
            for c in &mut clients {
                while let Some(p) = c.up.poll(now) {
                    if c.sock.try_send(&p).is_err() {
                        stats.send_errors += 1;
                    }
                }
                while let Some(p) = c.down.poll(now) {
                    if self.sock.try_send_to(&p, c.addr).is_err() {
                        stats.send_errors += 1;
                    }
                }
            }
        }
        main_reader.abort();
        stats.clients = clients.len();
        for c in &clients {
            c.reader.abort();
            add(&mut stats.up, c.up.stats());
            add(&mut stats.down, c.down.stats());
        }
        Ok(stats)
    }
}

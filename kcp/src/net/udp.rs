//! Batched UDP I/O through quinn-udp: recvmmsg (+ GRO) on the way in, GSO on the way out.
//!
//! Outgoing datagrams are appended back to back into one [`TxQueue`]; runs of datagrams with the same
//! destination and length (the last of a run may be shorter) go out as one GSO send.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Largest datagram we accept or send (kcp-go's `mtuLimit`).
pub(crate) const MAX_DATAGRAM: usize = 1500;
/// Datagrams per receive syscall.
const RECV_BATCH: usize = 32;
/// Upper bound on one GSO send (the kernel refuses more than 64 KiB in one UDP send).
const MAX_GSO_BYTES: usize = 65_000;

/// A tokio UDP socket with quinn-udp's batched send/receive state.
#[derive(Debug)]
pub(crate) struct Udp {
    pub(crate) io: UdpSocket,
    state: UdpSocketState,
    /// Connected to one peer (client): ICMP errors about that peer are reported on this socket.
    connected: bool,
    /// A connected socket reported `ECONNREFUSED` (ICMP port unreachable from the peer).
    refused: AtomicBool,
}

/// Socket options applied at creation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SockOpts {
    pub(crate) recv_buffer: usize,
    pub(crate) send_buffer: usize,
    pub(crate) dscp: Option<u8>,
}

impl Udp {
    pub(crate) fn bind(addr: SocketAddr, opts: SockOpts) -> io::Result<Self> {
        let domain = socket2::Domain::for_address(addr);
        let sock =
            socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        sock.set_nonblocking(true)?;
        if opts.recv_buffer > 0 {
            // Best effort, as kcp-go: the kernel clamps to its maximum.
            let _ = sock.set_recv_buffer_size(opts.recv_buffer);
        }
        if opts.send_buffer > 0 {
            let _ = sock.set_send_buffer_size(opts.send_buffer);
        }
        if let Some(dscp) = opts.dscp {
            // IPv4 TOS carries DSCP in its upper six bits, IPv6 traffic class unshifted (kcp-go SetDSCP).
            let ok4 = sock.set_tos_v4(u32::from(dscp) << 2).is_ok();
            let ok6 = addr.is_ipv6() && sock.set_tclass_v6(u32::from(dscp)).is_ok();
            if !ok4 && !ok6 {
                return Err(io::Error::other("cannot set DSCP"));
            }
        }
        sock.bind(&addr.into())?;
        let std: std::net::UdpSocket = sock.into();
        let state = UdpSocketState::new(UdpSockRef::from(&std))?;
        Ok(Self {
            io: UdpSocket::from_std(std)?,
            state,
            connected: false,
            refused: AtomicBool::new(false),
        })
    }

    /// Connects the socket to its only peer, so the kernel reports that peer's ICMP errors (a closed
    /// port answers "port unreachable", seen as `ECONNREFUSED` on the next send or receive).
    pub(crate) async fn connect(&mut self, remote: SocketAddr) -> io::Result<()> {
        self.io.connect(remote).await?;
        self.connected = true;
        Ok(())
    }

    /// Notes an error a send or receive returned. `ECONNREFUSED` on a connected socket marks the peer
    /// refused; on a shared (listener) socket it concerns one peer among many and is only counted.
    pub(crate) fn note_error(&self, e: &io::Error) {
        if e.kind() != io::ErrorKind::ConnectionRefused {
            return;
        }
        if self.connected {
            self.refused.store(true, Ordering::Release);
        } else {
            super::stats::snmp().in_errs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the peer of a connected socket refused (ICMP port unreachable).
    pub(crate) fn refused(&self) -> bool {
        self.refused.load(Ordering::Acquire)
    }

    /// Client sockets also wait for error readiness (a pending ICMP error); returns whether it is set.
    pub(crate) async fn ready(&self) -> io::Result<bool> {
        if !self.connected {
            self.io.readable().await?;
            return Ok(false);
        }
        let r = self.io.ready(Interest::READABLE | Interest::ERROR).await?;
        Ok(r.is_error())
    }

    /// Collects a pending socket error (`SO_ERROR`) and clears the error readiness, so the driver does
    /// not wake for it again.
    pub(crate) fn take_error(&self) {
        match self.io.take_error() {
            Ok(Some(e)) => self.note_error(&e),
            Ok(None) => {}
            Err(e) => self.note_error(&e),
        }
        let _ = self.io.try_io(Interest::ERROR, || {
            Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
        });
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Receives one batch without blocking and hands every datagram to `f(source, bytes)`.
    /// Returns the number of datagrams, or `WouldBlock` when none were waiting.
    pub(crate) fn recv_batch(&self, mut f: impl FnMut(SocketAddr, &mut [u8])) -> io::Result<usize> {
        RECV_ARENA.with(|arena| {
            let mut arena = arena.borrow_mut();
            let arena = &mut *arena;
            let stride = arena.stride;
            let mut slices: Vec<IoSliceMut<'_>> = Vec::with_capacity(RECV_BATCH);
            slices.extend(arena.buf.chunks_mut(stride).map(IoSliceMut::new));
            let meta = &mut arena.meta;
            let n = self.io.try_io(Interest::READABLE, || {
                self.state
                    .recv(UdpSockRef::from(&self.io), &mut slices, meta)
            })?;
            let mut count = 0;
            for (m, buf) in meta.iter().zip(slices.iter_mut()).take(n) {
                let data = &mut buf[..m.len];
                let seg = if m.stride == 0 {
                    m.len.max(1)
                } else {
                    m.stride
                };
                for d in data.chunks_mut(seg) {
                    count += 1;
                    f(m.addr, d);
                }
            }
            Ok(count)
        })
    }

    /// Sends every datagram of `tx`, waiting for socket space when the kernel buffer is full.
    pub(crate) async fn send_all(&self, tx: &mut TxQueue) -> io::Result<()> {
        let mut from = 0;
        loop {
            from = self.try_send(tx, from);
            if from >= tx.items.len() {
                break;
            }
            self.io.writable().await?;
        }
        tx.clear();
        Ok(())
    }

    /// Sends datagrams of `tx` from index `from` without waiting; returns the index of the first one
    /// not sent (the socket buffer is full), or `tx.len()`. Datagrams the kernel refuses for other
    /// reasons are dropped (UDP semantics; KCP retransmits).
    pub(crate) fn try_send(&self, tx: &TxQueue, from: usize) -> usize {
        let max_segs = self.state.max_gso_segments().max(1);
        let mut i = from;
        while i < tx.items.len() {
            let first = tx.items[i];
            let mut j = i + 1;
            let mut bytes = first.len;
            // Extend the run while destination and length match; a shorter datagram ends it.
            while j < tx.items.len() && j - i < max_segs && first.len > 0 {
                let it = tx.items[j];
                if it.dest != first.dest || it.len > first.len || bytes + it.len > MAX_GSO_BYTES {
                    break;
                }
                bytes += it.len;
                j += 1;
                if it.len < first.len {
                    break;
                }
            }
            let contents = &tx.buf[first.offset..first.offset + bytes];
            let transmit = Transmit {
                destination: first.dest,
                ecn: None,
                contents,
                segment_size: (j - i > 1).then_some(first.len),
                src_ip: None,
            };
            loop {
                let res = self.io.try_io(Interest::WRITABLE, || {
                    self.state.try_send(UdpSockRef::from(&self.io), &transmit)
                });
                match res {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return i,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // A closed port answers ICMP unreachable (refusal, see `note_error`); other errors
                    // are transient: the datagram is dropped and KCP retransmits.
                    Err(e) => {
                        self.note_error(&e);
                        break;
                    }
                }
            }
            i = j;
        }
        i
    }
}

/// Receive buffers shared by all drivers on one thread: a batch is received and fully processed
/// inside one synchronous call, so a thread never needs two at once, and idle endpoints cost nothing.
struct RecvArena {
    buf: Vec<u8>,
    stride: usize,
    meta: Vec<RecvMeta>,
}

thread_local! {
    static RECV_ARENA: RefCell<RecvArena> = RefCell::new(RecvArena::new());
}

impl RecvArena {
    fn new() -> Self {
        // GRO may coalesce up to 64 datagrams of one flow into one buffer.
        let stride = 64 * MAX_DATAGRAM;
        let batch = RECV_BATCH.clamp(1, quinn_udp::BATCH_SIZE.max(1));
        Self {
            buf: vec![0; stride * batch],
            stride,
            meta: vec![RecvMeta::default(); batch],
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct TxItem {
    dest: SocketAddr,
    offset: usize,
    len: usize,
}

/// Outgoing datagrams, stored back to back so runs can go out as one GSO send.
#[derive(Debug, Default)]
pub(crate) struct TxQueue {
    buf: Vec<u8>,
    items: Vec<TxItem>,
}

impl TxQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Appends a copy of `data` as a datagram to `dest`.
    pub(crate) fn push_copy(&mut self, dest: SocketAddr, data: &[u8]) {
        let offset = self.buf.len();
        self.buf.extend_from_slice(data);
        self.items.push(TxItem {
            dest,
            offset,
            len: data.len(),
        });
    }

    /// Appends the datagrams of `other` from index `from` on.
    pub(crate) fn append_from(&mut self, other: &TxQueue, from: usize) {
        for it in other.items.iter().skip(from) {
            self.push_copy(it.dest, &other.buf[it.offset..it.offset + it.len]);
        }
    }

    /// The datagrams from index `from` on, mutable (for sealing them in place after they were queued).
    pub(crate) fn datagrams_mut(&mut self, from: usize) -> impl Iterator<Item = &mut [u8]> {
        let items = self.items.get(from..).unwrap_or_default();
        // Datagrams lie back to back in `buf`, in item order (`push_copy` is the only writer).
        let start = items.first().map_or(self.buf.len(), |it| it.offset);
        let mut rest = &mut self.buf[start..];
        items.iter().map(move |it| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(it.len);
            rest = tail;
            head
        })
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
    }
}

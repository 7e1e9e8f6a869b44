//! One configuration type for sessions, clients and listeners.

use std::time::Duration;

use crate::codec::CryptKind;
use crate::proto::Preset;

/// Settings of a [`KcpStream`](super::KcpStream) or [`KcpListener`](super::KcpListener).
///
/// The defaults are kcptun's (fast mode, MTU 1350, windows 128/512, AES with FEC 10/3), so a default
/// client talks to a default kcptun server given the same key, plus the safety limits kcp-go lacks
/// (idle timeout, session cap, bounded write queue).
///
/// ```
/// use kcp::net::Config;
/// use kcp::codec::CryptKind;
/// let cfg = Config { crypt: CryptKind::None, fec_data_shards: 0, fec_parity_shards: 0, ..Config::default() };
/// assert_eq!(cfg.mtu, 1350);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// Retransmission preset (kcptun `--mode`).
    pub preset: Preset,
    /// Send window in segments.
    pub send_window: u16,
    /// Receive window in segments.
    pub recv_window: u16,
    /// Largest datagram, envelope included (at most 1500).
    pub mtu: usize,
    /// Byte stream (true, kcptun) or messages with boundaries (false).
    pub stream_mode: bool,
    /// Acknowledge every datagram at once instead of once per receive batch.
    pub ack_nodelay: bool,
    /// Cipher ([`CryptKind::Null`] leaves out the nonce + checksum header, as kcp-go with a nil cipher).
    pub crypt: CryptKind,
    /// Key material; each cipher uses its leading bytes as kcptun does
    /// ([`derive_key`](crate::codec::derive_key) turns a kcptun password into this).
    pub key: [u8; 32],
    /// FEC data shards (0 disables FEC).
    pub fec_data_shards: usize,
    /// FEC parity shards (0 disables FEC).
    pub fec_parity_shards: usize,
    /// Socket receive buffer in bytes (0 keeps the system default).
    pub socket_recv_buffer: usize,
    /// Socket send buffer in bytes (0 keeps the system default).
    pub socket_send_buffer: usize,
    /// DSCP code point for outgoing datagrams.
    pub dscp: Option<u8>,
    /// A session that receives nothing for this long ends with [`std::io::ErrorKind::TimedOut`].
    pub idle_timeout: Option<Duration>,
    /// After a stream is dropped and its data acknowledged, the session keeps acknowledging the peer's
    /// retransmissions until it has heard nothing for this long (KCP has no close handshake: without
    /// this, a lost final ACK would leave the peer retransmitting to nobody).
    pub close_linger: Duration,
    /// Ours: bytes of payload each window may hold when sized automatically (0: fixed windows, as kcp-go).
    ///
    /// The send window then follows twice the measured bandwidth-delay product, from `send_window` up to
    /// this many bytes, and the receive window advertised is at least this many bytes, so one session can
    /// fill a long fat path without a hand-tuned window and without holding more than this per direction.
    pub window_memory: usize,
    /// Ours: with automatic windows and FEC, send no parity while the sender is pipe-limited.
    ///
    /// A bulk transfer that fills its pipe uses the path's capacity: each parity shard there displaces a
    /// data segment (FEC 10/3 costs 23 % of the goodput), while the ARQ repairs a loss at the cost of that
    /// loss alone. So while the pipe is full, FEC groups go out without parity; parity returns as soon as
    /// the sender is no longer pipe-limited (interactive traffic, the tail of a transfer), where it saves a
    /// round trip. The peer needs nothing: the unsent shards' seqids stay reserved, and kcp-go decodes the
    /// rest unchanged. `false`, or fixed windows (`window_memory` 0): every group's parity, as kcp-go.
    pub adaptive_parity: bool,
    /// Ours: up to this many unacknowledged segments ride again in the spare room of a datagram that
    /// carries new data (at most [`MAX_BUNDLE`](crate::proto::MAX_BUNDLE); 0: off, as kcp-go).
    ///
    /// For a thin stream (small messages, far apart: games, chat, RPC) a lost message then arrives with
    /// the next one instead of a round trip or a timeout later. It costs bandwidth only where there is
    /// spare room: a bulk transfer's datagrams are full. A kcp-go peer treats the copies as duplicates.
    pub bundle_unacked: u8,
    /// Ours: with fixed windows (`window_memory` 0), new segments leave paced at about the rate the window
    /// allows instead of all at once when the window opens (`false`: as kcp-go). See
    /// [`Kcp::set_pacing`](crate::proto::Kcp::set_pacing).
    pub pacing: bool,
    /// Segments a writer may queue beyond the send window before writes wait.
    pub write_queue: u16,
    /// Listener: most sessions at once; datagrams that would open more are dropped.
    pub max_sessions: usize,
    /// Listener: sessions waiting for [`accept`](super::KcpListener::accept); more are refused.
    pub accept_backlog: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: Preset::Fast,
            send_window: 128,
            recv_window: 512,
            mtu: 1350,
            stream_mode: true,
            ack_nodelay: false,
            crypt: CryptKind::Aes256,
            key: crate::codec::derive_key("it's a secrect"),
            fec_data_shards: 10,
            fec_parity_shards: 3,
            socket_recv_buffer: 4 << 20,
            socket_send_buffer: 4 << 20,
            dscp: None,
            idle_timeout: Some(Duration::from_secs(60)),
            close_linger: Duration::from_millis(1000),
            window_memory: DEFAULT_WINDOW_MEMORY,
            adaptive_parity: true,
            bundle_unacked: 3,
            pacing: true,
            write_queue: 128,
            max_sessions: 65_536,
            accept_backlog: 128,
        }
    }
}

/// Default [`Config::window_memory`]: 8 MiB, twice the bandwidth-delay product of 100 Mbit/s at 300 ms.
pub const DEFAULT_WINDOW_MEMORY: usize = 8 << 20;

impl Config {
    /// `window_memory` in segments of `mss` payload bytes (0 when windows are fixed): the send window's
    /// ceiling, and the least receive window advertised.
    pub(crate) fn window_memory_segments(&self, mss: usize) -> u16 {
        (self.window_memory / mss.max(1)).min(65_535) as u16
    }

    /// `true` when FEC is on for sending (both shard counts non-zero, as kcp-go).
    pub fn fec_enabled(&self) -> bool {
        self.fec_data_shards > 0 && self.fec_parity_shards > 0
    }

    pub(crate) fn validate(&self) -> std::io::Result<()> {
        let bad = |m: &str| {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                m.to_string(),
            ))
        };
        if !(50..=super::udp::MAX_DATAGRAM).contains(&self.mtu) {
            return bad("mtu must be within 50..=1500");
        }
        if self.send_window == 0 || self.recv_window == 0 {
            return bad("windows must be non-zero");
        }
        if self.fec_enabled() && self.fec_data_shards + self.fec_parity_shards > 255 {
            return bad("at most 255 FEC shards");
        }
        if self.accept_backlog == 0 {
            return bad("accept_backlog must be non-zero");
        }
        Ok(())
    }
}

//! One configuration with kcptun's knobs and defaults, plus our limits.

use std::time::Duration;

use kcp::codec::CryptKind;
use kcp::proto::Preset;

use crate::error::Error;

/// kcptun's `--mode`: a KCP retransmission preset, or `manual` to use
/// [`Config::nodelay`], [`Config::interval`], [`Config::resend`] and [`Config::nc`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// nodelay 0, interval 40 ms, resend 2, no congestion control.
    Normal,
    /// nodelay 0, interval 30 ms, resend 2, no congestion control (kcptun's default).
    Fast,
    /// nodelay 1, interval 20 ms, resend 2, no congestion control.
    Fast2,
    /// nodelay 1, interval 10 ms, resend 2, no congestion control.
    Fast3,
    /// The four manual fields.
    Manual,
}

impl Mode {
    /// Parses a kcptun mode name (`normal`, `fast`, `fast2`, `fast3`, `manual`).
    pub fn from_name(name: &str) -> Option<Mode> {
        Some(match name {
            "normal" => Mode::Normal,
            "fast" => Mode::Fast,
            "fast2" => Mode::Fast2,
            "fast3" => Mode::Fast3,
            "manual" => Mode::Manual,
            _ => return None,
        })
    }

    /// The kcptun name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Fast => "fast",
            Mode::Fast2 => "fast2",
            Mode::Fast3 => "fast3",
            Mode::Manual => "manual",
        }
    }
}

/// Settings of a client ([`connect`](crate::connect)) or a listener
/// ([`KcpSmuxListener`](crate::KcpSmuxListener)).
///
/// Fields named after a kcptun flag mean exactly what the flag means (`shared/spec/kcptun.md`), with the same
/// unit and default; [`Config::default`] is the kcptun client's, [`Config::server_default`] the server's
/// (they differ only in the KCP windows). The fields after `keepalive` are ours. Both ends must agree on
/// `key`, `crypt`, `datashard`/`parityshard`, `nocomp` and `smuxver`.
///
/// ```
/// let mut cfg = stack::Config::default();
/// cfg.crypt = kcp::codec::CryptKind::Salsa20;
/// cfg.mode = stack::Mode::Fast3;
/// cfg.validate().unwrap();
/// cfg.mtu = 20;
/// assert!(cfg.validate().unwrap_err().to_string().contains("mtu"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Pre-shared secret (`key`); the cipher key is PBKDF2 of it, as kcptun derives it.
    pub key: String,
    /// Cipher (`crypt`); `CryptKind::Null` (no crypto header) is not a kcptun option and is refused.
    pub crypt: CryptKind,
    /// Retransmission preset (`mode`).
    pub mode: Mode,
    /// Manual mode: KCP nodelay (`nodelay`).
    pub nodelay: u32,
    /// Manual mode: KCP update interval in ms (`interval`).
    pub interval: u32,
    /// Manual mode: fast-resend threshold (`resend`).
    pub resend: u32,
    /// Manual mode: disable congestion control (`nc`).
    pub nc: bool,
    /// Client: KCP sessions streams are spread over (`conn`, at least 1).
    pub conn: usize,
    /// Client: seconds after which a session takes no new streams (`autoexpire`, 0 = never).
    pub autoexpire: u64,
    /// Client: seconds an expired session may still live for its streams (`scavengettl`).
    pub scavengettl: u64,
    /// Largest UDP payload (`mtu`).
    pub mtu: usize,
    /// KCP send window in segments (`sndwnd`).
    pub sndwnd: u32,
    /// KCP receive window in segments (`rcvwnd`).
    pub rcvwnd: u32,
    /// FEC data shards (`datashard`, 0 with `parityshard` 0 disables FEC).
    pub datashard: usize,
    /// FEC parity shards (`parityshard`).
    pub parityshard: usize,
    /// DSCP of outgoing datagrams (`dscp`, 0..=63).
    pub dscp: u8,
    /// Disable snappy compression (`nocomp`).
    pub nocomp: bool,
    /// Acknowledge at once instead of once per update (`acknodelay`).
    pub acknodelay: bool,
    /// UDP socket send and receive buffer in bytes (`sockbuf`).
    pub sockbuf: usize,
    /// smux protocol version, 1 or 2 (`smuxver`).
    pub smuxver: u8,
    /// smux session receive buffer in bytes (`smuxbuf`).
    pub smuxbuf: usize,
    /// smux v2 per-stream window in bytes (`streambuf`).
    pub streambuf: usize,
    /// Largest smux frame payload this side sends (`framesize`, kcptun's older key; smux default 32768).
    pub framesize: usize,
    /// smux keepalive interval in seconds (`keepalive`).
    pub keepalive: u64,
    /// Ours: an smux session that receives no frame for this long ends (smux's fixed 30 s by default).
    pub keepalive_timeout: Duration,
    /// Ours: bytes of payload the KCP windows may hold per session and direction when sized from the
    /// measured bandwidth-delay product (0: fixed `sndwnd`/`rcvwnd`, as kcptun). `sndwnd` is then the send
    /// window's floor, and the receive window advertised is at least this many bytes. The default, 8 MiB,
    /// fills 100 Mbit/s at up to 300 ms RTT; a server with many sessions may want less.
    pub window_memory: usize,
    /// Ours: with automatic windows and FEC, groups carry no parity while a transfer fills its pipe (parity
    /// would displace data; the ARQ repairs losses more cheaply), and full parity otherwise. Wire-compatible
    /// with kcptun. `false`: parity always, as kcptun. See [`kcp::net::Config::adaptive_parity`].
    pub adaptive_parity: bool,
    /// Ours: unacknowledged segments copied into the spare room of datagrams carrying new data, so a thin
    /// stream recovers a lost message with the next one (0: off, as kcptun). See
    /// [`kcp::net::Config::bundle_unacked`].
    pub bundle_unacked: u8,
    /// Ours: with fixed windows (`window_memory` 0), new segments are paced at about the rate the window
    /// allows instead of leaving all at once when it opens (`false`: as kcptun). See
    /// [`kcp::net::Config::pacing`].
    pub pacing: bool,
    /// Ours: most streams open at once per session; beyond it the peer's SYN is answered with FIN.
    pub max_streams: usize,
    /// Ours: a stream with no traffic either way for this long is closed (`None` = never, as smux).
    pub stream_idle_timeout: Option<Duration>,
    /// Ours: a KCP session that receives no datagram for this long ends (`None` = never, as kcp-go).
    pub session_idle_timeout: Option<Duration>,
    /// Ours, client: how long [`connect`](crate::connect) waits for the server to acknowledge a probe.
    pub connect_timeout: Duration,
    /// Ours, client: a session that has carried no stream for this long is replaced on the next open instead
    /// of reused. KCP has no handshake, so a fresh session costs nothing, while a session that sat idle may
    /// be talking to a server that restarted in the meantime (which KCP cannot detect). `None` = always reuse.
    pub idle_recycle: Option<Duration>,
    /// Ours, listener: accepted streams waiting for [`accept`](crate::KcpSmuxListener::accept).
    pub accept_backlog: usize,
}

impl Default for Config {
    /// kcptun client defaults.
    fn default() -> Config {
        Config {
            key: "it's a secrect".into(),
            crypt: CryptKind::Aes256,
            mode: Mode::Fast,
            nodelay: 0,
            interval: 50,
            resend: 0,
            nc: false,
            conn: 1,
            autoexpire: 0,
            scavengettl: 600,
            mtu: 1350,
            sndwnd: 128,
            rcvwnd: 512,
            datashard: 10,
            parityshard: 3,
            dscp: 0,
            nocomp: false,
            acknodelay: false,
            sockbuf: 4 << 20,
            smuxver: 1,
            smuxbuf: 4 << 20,
            streambuf: 2 << 20,
            framesize: 32768,
            keepalive: 10,
            keepalive_timeout: Duration::from_secs(30),
            window_memory: kcp::net::DEFAULT_WINDOW_MEMORY,
            adaptive_parity: true,
            bundle_unacked: 3,
            pacing: true,
            max_streams: 65536,
            stream_idle_timeout: None,
            session_idle_timeout: Some(Duration::from_secs(120)),
            connect_timeout: Duration::from_secs(5),
            idle_recycle: Some(Duration::from_secs(30)),
            accept_backlog: 1024,
        }
    }
}

impl Config {
    /// kcptun server defaults (windows 1024/1024; everything else as the client).
    pub fn server_default() -> Config {
        Config {
            sndwnd: 1024,
            rcvwnd: 1024,
            ..Config::default()
        }
    }

    /// Checks every field; the error names the kcptun key (or our field) that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| Err(Error::config(field, reason));
        if self.crypt == CryptKind::Null {
            return bad("crypt", "\"null\" is not a kcptun cipher (use \"none\")");
        }
        if self.mode == Mode::Manual && !(10..=5000).contains(&self.interval) {
            return bad("interval", "must be within 10..=5000 ms");
        }
        if self.conn == 0 {
            return bad("conn", "must be at least 1");
        }
        if !(50..=1500).contains(&self.mtu) {
            return bad("mtu", "must be within 50..=1500");
        }
        if !(1..=65535).contains(&self.sndwnd) {
            return bad("sndwnd", "must be within 1..=65535");
        }
        if !(1..=65535).contains(&self.rcvwnd) {
            return bad("rcvwnd", "must be within 1..=65535");
        }
        if self.datashard > 0 && self.parityshard > 0 && self.datashard + self.parityshard > 255 {
            return bad("datashard", "datashard + parityshard must be at most 255");
        }
        if self.dscp > 63 {
            return bad("dscp", "must be within 0..=63");
        }
        if self.smuxver != 1 && self.smuxver != 2 {
            return bad("smuxver", "must be 1 or 2");
        }
        if self.smuxbuf == 0 || self.smuxbuf > i32::MAX as usize {
            return bad("smuxbuf", "must be within 1..=2147483647");
        }
        if self.streambuf == 0 || self.streambuf > self.smuxbuf {
            return bad("streambuf", "must be positive and at most smuxbuf");
        }
        if !(1..=65535).contains(&self.framesize) {
            return bad("framesize", "must be within 1..=65535");
        }
        if self.keepalive == 0 {
            return bad("keepalive", "must be at least 1 second");
        }
        if self.keepalive_timeout < Duration::from_secs(self.keepalive) {
            return bad(
                "keepalive",
                "must not exceed the keepalive timeout (30 s unless changed)",
            );
        }
        if self.max_streams == 0 {
            return bad("max_streams", "must be at least 1");
        }
        if self.stream_idle_timeout.is_some_and(|d| d.is_zero()) {
            return bad("stream_idle_timeout", "must be positive");
        }
        if self.session_idle_timeout.is_some_and(|d| d.is_zero()) {
            return bad("session_idle_timeout", "must be positive");
        }
        if self.connect_timeout.is_zero() {
            return bad("connect_timeout", "must be positive");
        }
        if self.accept_backlog == 0 {
            return bad("accept_backlog", "must be at least 1");
        }
        Ok(())
    }

    /// The KCP retransmission preset this configuration selects.
    pub fn preset(&self) -> Preset {
        match self.mode {
            Mode::Normal => Preset::Normal,
            Mode::Fast => Preset::Fast,
            Mode::Fast2 => Preset::Fast2,
            Mode::Fast3 => Preset::Fast3,
            Mode::Manual => Preset::Manual {
                nodelay: self.nodelay,
                interval: self.interval,
                resend: self.resend,
                nc: self.nc,
            },
        }
    }

    /// The KCP session settings (what kcptun applies to every session).
    pub fn kcp_config(&self) -> kcp::net::Config {
        kcp::net::Config {
            preset: self.preset(),
            send_window: self.sndwnd.min(65535) as u16,
            recv_window: self.rcvwnd.min(65535) as u16,
            mtu: self.mtu,
            stream_mode: true,
            ack_nodelay: self.acknodelay,
            crypt: self.crypt,
            key: kcp::codec::derive_key(&self.key),
            fec_data_shards: self.datashard,
            fec_parity_shards: self.parityshard,
            socket_recv_buffer: self.sockbuf,
            socket_send_buffer: self.sockbuf,
            dscp: (self.dscp > 0).then_some(self.dscp),
            idle_timeout: self.session_idle_timeout,
            window_memory: self.window_memory,
            adaptive_parity: self.adaptive_parity,
            bundle_unacked: self.bundle_unacked,
            pacing: self.pacing,
            ..kcp::net::Config::default()
        }
    }

    /// The smux session settings (kcptun: `DefaultConfig` plus version, buffers, keepalive).
    pub fn smux_config(&self) -> smux::Config {
        smux::Config {
            version: self.smuxver,
            keep_alive_interval: Duration::from_secs(self.keepalive),
            keep_alive_timeout: self.keepalive_timeout,
            max_frame_size: self.framesize,
            max_receive_buffer: self.smuxbuf,
            max_stream_buffer: self.streambuf,
            max_streams: self.max_streams,
            idle_stream_timeout: self.stream_idle_timeout,
            ..smux::Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kcptuns() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!((c.sndwnd, c.rcvwnd), (128, 512));
        let s = Config::server_default();
        assert_eq!((s.sndwnd, s.rcvwnd), (1024, 1024));
        assert_eq!(c.preset().params(), (0, 30, 2, true));
        let k = c.kcp_config();
        assert_eq!(k.mtu, 1350);
        assert_eq!(
            hex::encode(k.key),
            "25d7d7bd51050742d8d791f2b653c6c8b2366b7e25a124cf7a2e12eaf4ffa444"
        );
        let m = c.smux_config();
        m.validate().unwrap();
        assert_eq!(m.max_stream_buffer, 2 << 20);
        assert_eq!(m.keep_alive_interval, Duration::from_secs(10));
    }

    #[test]
    fn validation_names_the_field() {
        let field = |f: &dyn Fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            match c.validate() {
                Err(Error::ConfigInvalid { field, .. }) => field,
                other => panic!("expected ConfigInvalid, got {other:?}"),
            }
        };
        assert_eq!(field(&|c| c.mtu = 1501), "mtu");
        assert_eq!(field(&|c| c.conn = 0), "conn");
        assert_eq!(field(&|c| c.sndwnd = 0), "sndwnd");
        assert_eq!(field(&|c| c.rcvwnd = 70000), "rcvwnd");
        assert_eq!(field(&|c| c.smuxver = 3), "smuxver");
        assert_eq!(field(&|c| c.streambuf = c.smuxbuf + 1), "streambuf");
        assert_eq!(field(&|c| c.keepalive = 31), "keepalive");
        assert_eq!(field(&|c| c.dscp = 64), "dscp");
        assert_eq!(field(&|c| c.framesize = 0), "framesize");
        assert_eq!(field(&|c| c.crypt = CryptKind::Null), "crypt");
        assert_eq!(
            field(&|c| {
                c.mode = Mode::Manual;
                c.interval = 5
            }),
            "interval"
        );
        assert_eq!(
            field(&|c| {
                c.datashard = 200;
                c.parityshard = 100
            }),
            "datashard"
        );
    }

    #[test]
    fn every_mode_maps_to_its_preset() {
        for (name, params) in [
            ("normal", (0, 40, 2, true)),
            ("fast", (0, 30, 2, true)),
            ("fast2", (1, 20, 2, true)),
            ("fast3", (1, 10, 2, true)),
        ] {
            let c = Config {
                mode: Mode::from_name(name).unwrap(),
                ..Config::default()
            };
            assert_eq!(c.preset().params(), params, "{name}");
            assert_eq!(c.mode.name(), name);
        }
        let c = Config {
            mode: Mode::Manual,
            nodelay: 1,
            interval: 15,
            resend: 3,
            nc: false,
            ..Config::default()
        };
        assert_eq!(c.preset().params(), (1, 15, 3, false));
    }
}

//! Session configuration: the kcptun presets, windows, MTU and the reserved envelope prefix.

use std::fmt;

use super::header::OVERHEAD;

/// Default MTU (kcp-go `IKCP_MTU_DEF`).
pub const MTU_DEF: usize = 1400;
/// Default send and receive windows in segments (kcp-go `IKCP_WND_SND` / `IKCP_WND_RCV`).
pub const WND_DEF: u16 = 32;
/// Transmission count at which the link is declared dead.
pub const DEAD_LINK: u32 = 20;

/// The retransmission behaviour: `nodelay`, `interval`, `resend`, `nc` as in kcp-go's `NoDelay`.
///
/// The named presets are kcptun's `--mode` values; [`Preset::Manual`] takes the four numbers directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// `nodelay 0, interval 40, resend 2, nc 1`.
    Normal,
    /// `nodelay 0, interval 30, resend 2, nc 1` (kcptun's default).
    Fast,
    /// `nodelay 1, interval 20, resend 2, nc 1`.
    Fast2,
    /// `nodelay 1, interval 10, resend 2, nc 1`.
    Fast3,
    /// Explicit settings.
    Manual {
        /// Non-zero: minimum RTO 30 ms and gentler RTO backoff.
        nodelay: u32,
        /// Flush interval in ms, clamped to `[10, 5000]`.
        interval: u32,
        /// Fast-retransmit threshold: retransmit after this many later segments are acked (0 = off).
        resend: u32,
        /// `true` disables the congestion window.
        nc: bool,
    },
}

impl Preset {
    /// kcp-go's initial settings (`NewKCP`): `nodelay 0, interval 100, resend 0, nc 0`.
    pub const KCP_DEFAULT: Preset = Preset::Manual {
        nodelay: 0,
        interval: 100,
        resend: 0,
        nc: false,
    };

    /// The four numbers `(nodelay, interval, resend, nc)`, interval clamped to `[10, 5000]`.
    pub fn params(&self) -> (u32, u32, u32, bool) {
        let (nd, iv, rs, nc) = match *self {
            Preset::Normal => (0, 40, 2, true),
            Preset::Fast => (0, 30, 2, true),
            Preset::Fast2 => (1, 20, 2, true),
            Preset::Fast3 => (1, 10, 2, true),
            Preset::Manual {
                nodelay,
                interval,
                resend,
                nc,
            } => (nodelay, interval, resend, nc),
        };
        (nd, iv.clamp(10, 5000), rs, nc)
    }
}

/// Everything a [`Kcp`](super::Kcp) needs besides its conv.
///
/// ```
/// use kcp::proto::{KcpConfig, Preset};
/// let cfg = KcpConfig { preset: Preset::Fast3, snd_wnd: 1024, rcv_wnd: 1024, mtu: 1350, reserved: 28, ..Default::default() };
/// assert_eq!(cfg.mss(), 1298);
/// cfg.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KcpConfig {
    /// Retransmission preset.
    pub preset: Preset,
    /// Send window in segments (1..=65535).
    pub snd_wnd: u16,
    /// Receive window in segments (1..=65535).
    pub rcv_wnd: u16,
    /// Ours: largest send window. Above `snd_wnd`, the send window is sized from the measured
    /// bandwidth-delay product (twice it), between `snd_wnd` and this; 0 or at most `snd_wnd` keeps the
    /// window fixed at `snd_wnd` as kcp-go does.
    pub max_snd_wnd: u16,
    /// Largest datagram including the reserved prefix (50..=1500).
    pub mtu: usize,
    /// Stream mode: writes are coalesced into full segments and `frg` is always 0. Message mode (false) keeps
    /// message boundaries with fragments.
    pub stream: bool,
    /// Bytes at the front of every datagram left for the outer envelope (crypto nonce, checksum, FEC header).
    pub reserved: usize,
    /// Acknowledge right after input instead of waiting for the next flush.
    pub ack_nodelay: bool,
}

impl Default for KcpConfig {
    fn default() -> Self {
        KcpConfig {
            preset: Preset::KCP_DEFAULT,
            snd_wnd: WND_DEF,
            rcv_wnd: WND_DEF,
            max_snd_wnd: 0,
            mtu: MTU_DEF,
            stream: false,
            reserved: 0,
            ack_nodelay: false,
        }
    }
}

impl KcpConfig {
    /// Largest payload per segment: `mtu - 24 - reserved`.
    pub fn mss(&self) -> usize {
        self.mtu.saturating_sub(OVERHEAD + self.reserved)
    }

    /// Checks the limits kcp-go enforces (`SetMtu`, `ReserveBytes`, `WndSize`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(50..=1500).contains(&self.mtu) {
            return Err(ConfigError::Mtu(self.mtu));
        }
        if self.reserved >= self.mtu - OVERHEAD {
            return Err(ConfigError::Reserved {
                reserved: self.reserved,
                mtu: self.mtu,
            });
        }
        if self.snd_wnd == 0 || self.rcv_wnd == 0 {
            return Err(ConfigError::Window);
        }
        Ok(())
    }
}

/// A [`KcpConfig`] value outside what KCP accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// MTU outside 50..=1500.
    Mtu(usize),
    /// Reserved prefix leaves no room for a header and payload.
    Reserved {
        /// Requested reserved bytes.
        reserved: usize,
        /// Configured MTU.
        mtu: usize,
    },
    /// A window of 0 segments.
    Window,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::Mtu(m) => write!(f, "mtu {m} outside 50..=1500"),
            ConfigError::Reserved { reserved, mtu } => {
                write!(
                    f,
                    "reserved {reserved} bytes leaves no payload room in mtu {mtu}"
                )
            }
            ConfigError::Window => write!(f, "send and receive windows must be at least 1 segment"),
        }
    }
}

impl std::error::Error for ConfigError {}

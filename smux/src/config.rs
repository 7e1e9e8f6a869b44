//! Session configuration: every xtaci/smux field with its defaults and validation, plus our limits.

use std::time::Duration;

use crate::error::Error;

/// Configuration of a session.
///
/// The first seven fields are xtaci/smux's `Config` with the same defaults (`DefaultConfig`) and the same
/// validation (`VerifyConfig`). The rest are ours: limits a Go smux session does not have.
///
/// ```
/// let mut cfg = smux::Config::default();
/// cfg.version = 2;
/// cfg.max_stream_buffer = 2 * 1024 * 1024;
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Frame version byte, 1 or 2; both ends must match. Default 1.
    pub version: u8,
    /// Disables NOP sending and the keepalive timeout. Default false.
    pub keep_alive_disabled: bool,
    /// Period of keepalive NOPs. Default 10 s.
    pub keep_alive_interval: Duration,
    /// The session ends if no frame arrived for this long. Default 30 s.
    pub keep_alive_timeout: Duration,
    /// Largest PSH payload this side sends. Default 32768, at most 65535.
    pub max_frame_size: usize,
    /// Session-wide receive budget in bytes (the smux token bucket). Default 4 MiB.
    pub max_receive_buffer: usize,
    /// v2 per-stream window advertised to the peer. Default 65536.
    pub max_stream_buffer: usize,
    /// Ours: streams opened by the peer that wait for `accept_stream`; when full the session stops reading
    /// the transport until the application accepts (as smux's 1024-entry accept channel). Default 1024.
    pub accept_backlog: usize,
    /// Ours: limit on streams open at once (both directions). A SYN beyond it is answered with FIN and
    /// counted; `open_stream` fails with [`Error::TooManyStreams`]. Default 65536.
    pub max_streams: usize,
    /// Ours: a stream that sees no frame in either direction for this long is closed (FIN sent, local reads
    /// and writes fail with [`Error::StreamIdleTimeout`]). Default `None` (disabled, as smux).
    pub idle_stream_timeout: Option<Duration>,
    /// Ours: bytes a stream may queue for sending before `poll_write` waits. Default 256 KiB.
    pub stream_send_buffer: usize,
    /// Ours: largest PSH payload accepted from the peer; larger ends the session with
    /// [`Error::OversizeFrame`]. Default 65535 (accept anything, as smux).
    pub max_receive_frame_size: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            version: 1,
            keep_alive_disabled: false,
            keep_alive_interval: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            max_frame_size: 32768,
            max_receive_buffer: 4 * 1024 * 1024,
            max_stream_buffer: 65536,
            accept_backlog: 1024,
            max_streams: 65536,
            idle_stream_timeout: None,
            stream_send_buffer: 256 * 1024,
            max_receive_frame_size: 65535,
        }
    }
}

impl Config {
    /// Checks the configuration with xtaci/smux's rules plus ours.
    pub fn validate(&self) -> Result<(), Error> {
        if self.version != 1 && self.version != 2 {
            return Err(Error::InvalidConfig("unsupported protocol version"));
        }
        if !self.keep_alive_disabled {
            if self.keep_alive_interval.is_zero() {
                return Err(Error::InvalidConfig("keep-alive interval must be positive"));
            }
            if self.keep_alive_timeout < self.keep_alive_interval {
                return Err(Error::InvalidConfig(
                    "keep-alive timeout must be larger than keep-alive interval",
                ));
            }
        }
        if self.max_frame_size == 0 {
            return Err(Error::InvalidConfig("max frame size must be positive"));
        }
        if self.max_frame_size > 65535 {
            return Err(Error::InvalidConfig(
                "max frame size must not be larger than 65535",
            ));
        }
        if self.max_receive_buffer == 0 {
            return Err(Error::InvalidConfig("max receive buffer must be positive"));
        }
        if self.max_receive_buffer > i32::MAX as usize {
            return Err(Error::InvalidConfig(
                "max receive buffer must not exceed 2147483647",
            ));
        }
        if self.max_stream_buffer == 0 {
            return Err(Error::InvalidConfig("max stream buffer must be positive"));
        }
        if self.max_stream_buffer > self.max_receive_buffer {
            return Err(Error::InvalidConfig(
                "max stream buffer must not be larger than max receive buffer",
            ));
        }
        if self.max_stream_buffer > i32::MAX as usize {
            return Err(Error::InvalidConfig(
                "max stream buffer cannot be larger than 2147483647",
            ));
        }
        if self.accept_backlog == 0 || self.max_streams == 0 {
            return Err(Error::InvalidConfig(
                "accept backlog and max streams must be positive",
            ));
        }
        if self.stream_send_buffer == 0 {
            return Err(Error::InvalidConfig("stream send buffer must be positive"));
        }
        if self.max_receive_frame_size > 65535 {
            return Err(Error::InvalidConfig(
                "max receive frame size must not be larger than 65535",
            ));
        }
        if self.idle_stream_timeout.is_some_and(|d| d.is_zero()) {
            return Err(Error::InvalidConfig("idle stream timeout must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_smux_and_validate() {
        let c = Config::default();
        assert_eq!(c.version, 1);
        assert_eq!(c.keep_alive_interval, Duration::from_secs(10));
        assert_eq!(c.keep_alive_timeout, Duration::from_secs(30));
        assert_eq!(c.max_frame_size, 32768);
        assert_eq!(c.max_receive_buffer, 4194304);
        assert_eq!(c.max_stream_buffer, 65536);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn smux_rules() {
        let bad = |f: &dyn Fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(&|c| c.version = 3));
        assert!(bad(&|c| c.version = 0));
        assert!(bad(&|c| c.keep_alive_interval = Duration::ZERO));
        assert!(bad(&|c| c.keep_alive_interval = Duration::from_secs(31)));
        assert!(!bad(&|c| {
            c.keep_alive_disabled = true;
            c.keep_alive_interval = Duration::ZERO;
        }));
        assert!(bad(&|c| c.max_frame_size = 0));
        assert!(bad(&|c| c.max_frame_size = 65536));
        assert!(!bad(&|c| c.max_frame_size = 65535));
        assert!(bad(&|c| c.max_receive_buffer = 0));
        assert!(bad(&|c| c.max_stream_buffer = 0));
        assert!(bad(&|c| c.max_stream_buffer = c.max_receive_buffer + 1));
        assert!(!bad(&|c| c.max_stream_buffer = c.max_receive_buffer));
    }
}

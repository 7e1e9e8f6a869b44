//! The errors an application can act on.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// What went wrong, in terms an application can act on: reconnect, retry the stream, fix the config.
///
/// Stream reads and writes report `std::io::Error`s; when the cause is one of these, the `io::Error` carries
/// it and [`Error::from_io`] gets it back.
///
/// ```
/// let e = stack::Error::ConfigInvalid { field: "mtu", reason: "must be within 50..=1500".into() };
/// assert_eq!(e.to_string(), "invalid config: mtu: must be within 50..=1500");
/// let io: std::io::Error = e.into();
/// assert!(matches!(stack::Error::from_io(&io), Some(stack::Error::ConfigInvalid { field: "mtu", .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer refused: the kernel reported the UDP port closed (ICMP port unreachable).
    #[error("connection to {addr} refused")]
    ConnectRefused {
        /// The server address.
        addr: SocketAddr,
    },
    /// The peer did not acknowledge anything within the connect timeout.
    #[error("connection to {addr} timed out after {after:?}")]
    ConnectTimedOut {
        /// The server address.
        addr: SocketAddr,
        /// How long we waited.
        after: Duration,
    },
    /// The KCP or smux session under a stream ended (dead link, idle or keepalive timeout, protocol error,
    /// peer gone). The client replaces the session on the next `open_stream`.
    #[error("session lost: {0}")]
    SessionLost(String),
    /// The stream was closed under us (the peer or a local limit closed it; smux has no reset frame, so
    /// this is also what a write after the peer's close looks like).
    #[error("stream reset: {0}")]
    StreamReset(String),
    /// A configuration value was refused; `field` is the kcptun JSON key (or our field name).
    #[error("invalid config: {field}: {reason}")]
    ConfigInvalid {
        /// The offending key.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Any other I/O error (address resolution, socket creation, reading a config file).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Error {
        Error::ConfigInvalid {
            field,
            reason: reason.into(),
        }
    }

    /// The [`Error`] an `io::Error` from a stream carries, if any.
    pub fn from_io(e: &io::Error) -> Option<&Error> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }

    /// Maps an smux error to the class an application acts on.
    pub(crate) fn from_smux(e: smux::Error) -> Error {
        match e {
            smux::Error::StreamClosed | smux::Error::StreamIdleTimeout => {
                Error::StreamReset(e.to_string())
            }
            smux::Error::InvalidConfig(m) => Error::config("smux", m),
            other => Error::SessionLost(other.to_string()),
        }
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::ConnectRefused { .. } => io::ErrorKind::ConnectionRefused,
            Error::ConnectTimedOut { .. } => io::ErrorKind::TimedOut,
            Error::SessionLost(_) => io::ErrorKind::ConnectionAborted,
            Error::StreamReset(_) => io::ErrorKind::ConnectionReset,
            Error::ConfigInvalid { .. } => io::ErrorKind::InvalidInput,
            Error::Io(e) => e.kind(),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            other => io::Error::new(other.io_kind(), other),
        }
    }
}

/// Turns an error from an smux stream operation into one that carries an [`Error`].
pub(crate) fn map_stream_io(e: io::Error) -> io::Error {
    let kind = e.kind();
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<smux::Error>()) else {
        return e;
    };
    let mapped = Error::from_smux(inner.clone());
    // Keep the kinds smux chose for EOF-like endings so that `read_exact` etc. behave as usual.
    if kind == io::ErrorKind::UnexpectedEof {
        return io::Error::new(kind, mapped);
    }
    mapped.into()
}

//! Errors of sessions and streams.

use std::io;

/// Everything that can go wrong in a session or stream. Cloneable so that one session failure can be
/// reported to every stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration was refused (the message names the rule, as xtaci/smux `VerifyConfig`).
    #[error("invalid smux config: {0}")]
    InvalidConfig(&'static str),
    /// The peer sent a frame with a version byte other than the session's.
    #[error("invalid protocol: bad version byte {got} (session speaks version {expected})")]
    BadVersion {
        /// The session's version.
        expected: u8,
        /// The byte received.
        got: u8,
    },
    /// The peer sent a command byte above 4.
    #[error("invalid protocol: unknown command {0}")]
    UnknownCommand(u8),
    /// The peer sent a PSH frame longer than this side accepts.
    #[error("invalid protocol: oversize frame of {length} bytes (limit {max})")]
    OversizeFrame {
        /// Payload length announced by the header.
        length: usize,
        /// The configured limit.
        max: usize,
    },
    /// No frame arrived within the keepalive timeout.
    #[error("keepalive timeout: no frame received within the timeout")]
    KeepaliveTimeout,
    /// The session was closed locally.
    #[error("session closed")]
    SessionClosed,
    /// The transport reached end of file.
    #[error("transport closed by the peer")]
    TransportEof,
    /// Reading from or writing to the transport failed.
    #[error("transport error: {message}")]
    Transport {
        /// The kind of the underlying I/O error.
        kind: io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// Stream ids are exhausted; no more streams can be opened on this session.
    #[error("stream ids exhausted (go away)")]
    GoAway,
    /// The configured limit of open streams was reached.
    #[error("too many open streams (limit {0})")]
    TooManyStreams(usize),
    /// The stream was closed after being idle longer than the configured idle timeout.
    #[error("stream idle timeout")]
    StreamIdleTimeout,
    /// v2: the peer claims to have consumed more bytes than were sent.
    #[error("peer consumed more than sent")]
    Consumed,
    /// The stream was closed locally (written to after shutdown).
    #[error("stream closed")]
    StreamClosed,
}

impl Error {
    pub(crate) fn from_io(e: &io::Error) -> Error {
        Error::Transport {
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::InvalidConfig(_) => io::ErrorKind::InvalidInput,
            Error::BadVersion { .. } | Error::UnknownCommand(_) | Error::OversizeFrame { .. } => {
                io::ErrorKind::InvalidData
            }
            Error::KeepaliveTimeout | Error::StreamIdleTimeout => io::ErrorKind::TimedOut,
            Error::SessionClosed | Error::StreamClosed => io::ErrorKind::BrokenPipe,
            Error::TransportEof => io::ErrorKind::UnexpectedEof,
            Error::Transport { kind, .. } => *kind,
            Error::GoAway | Error::TooManyStreams(_) => io::ErrorKind::Other,
            Error::Consumed => io::ErrorKind::InvalidData,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

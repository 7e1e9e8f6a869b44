//! The 24-byte KCP segment header and the walk over the segments packed in one datagram.
//!
//! Layout (all little-endian): `conv u32 | cmd u8 | frg u8 | wnd u16 | ts u32 | sn u32 | una u32 | len u32`,
//! followed by `len` payload bytes. Several segments are concatenated in one datagram.

use std::fmt;

/// Size of a segment header in bytes.
pub const OVERHEAD: usize = 24;

/// Byte offset of the `sn` field inside a header (a listener may peek at it).
pub const SN_OFFSET: usize = 12;

/// Segment command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cmd {
    /// Data (81).
    Push = 81,
    /// Acknowledgement of one `sn` (82).
    Ack = 82,
    /// Window probe: "tell me your window" (83).
    Wask = 83,
    /// Window size announcement (84).
    Wins = 84,
}

impl Cmd {
    /// Parses a command byte; `None` if it is not one of 81..=84.
    pub fn from_u8(v: u8) -> Option<Cmd> {
        match v {
            81 => Some(Cmd::Push),
            82 => Some(Cmd::Ack),
            83 => Some(Cmd::Wask),
            84 => Some(Cmd::Wins),
            _ => None,
        }
    }
}

/// A decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Conversation id.
    pub conv: u32,
    /// Command.
    pub cmd: Cmd,
    /// Fragment countdown (message mode), 0 in stream mode.
    pub frg: u8,
    /// Sender's free receive window, in segments.
    pub wnd: u16,
    /// Timestamp (sender's clock, or the echoed ts in an ACK).
    pub ts: u32,
    /// Sequence number (PUSH) or acknowledged sequence number (ACK).
    pub sn: u32,
    /// Sender's `rcv_nxt`: everything below it has been received.
    pub una: u32,
    /// Payload length following the header.
    pub len: u32,
}

impl SegmentHeader {
    /// Writes the header into the first [`OVERHEAD`] bytes of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than [`OVERHEAD`] bytes.
    pub fn encode(&self, out: &mut [u8]) {
        let out = &mut out[..OVERHEAD];
        out[0..4].copy_from_slice(&self.conv.to_le_bytes());
        out[4] = self.cmd as u8;
        out[5] = self.frg;
        out[6..8].copy_from_slice(&self.wnd.to_le_bytes());
        out[8..12].copy_from_slice(&self.ts.to_le_bytes());
        out[12..16].copy_from_slice(&self.sn.to_le_bytes());
        out[16..20].copy_from_slice(&self.una.to_le_bytes());
        out[20..24].copy_from_slice(&self.len.to_le_bytes());
    }

    /// Decodes a header from the start of `buf` (the payload is not checked).
    pub fn decode(buf: &[u8]) -> Result<SegmentHeader, InputError> {
        let Some(h) = buf.first_chunk::<OVERHEAD>() else {
            return Err(InputError::TooShort { len: buf.len() });
        };
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let cmd = Cmd::from_u8(h[4]).ok_or(InputError::BadCommand {
            offset: 0,
            cmd: h[4],
        })?;
        Ok(SegmentHeader {
            conv: u32_at(0),
            cmd,
            frg: h[5],
            wnd: u16::from_le_bytes([h[6], h[7]]),
            ts: u32_at(8),
            sn: u32_at(12),
            una: u32_at(16),
            len: u32_at(20),
        })
    }
}

/// Why a datagram was rejected by [`Kcp::input`](super::Kcp::input) or [`segments`].
///
/// `offset` is the byte offset of the offending segment header inside the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// The datagram is shorter than one 24-byte header.
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// A segment carries a conversation id other than this session's.
    WrongConv {
        /// Offset of the segment.
        offset: usize,
        /// This session's conv.
        expected: u32,
        /// The conv found in the segment.
        found: u32,
    },
    /// The command byte is not PUSH/ACK/WASK/WINS.
    BadCommand {
        /// Offset of the segment.
        offset: usize,
        /// The command byte found.
        cmd: u8,
    },
    /// The segment's `len` runs past the end of the datagram.
    LengthPastEnd {
        /// Offset of the segment.
        offset: usize,
        /// The declared payload length.
        len: u32,
        /// Bytes actually left after the header.
        remaining: usize,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InputError::TooShort { len } => {
                write!(
                    f,
                    "datagram of {len} bytes is shorter than a {OVERHEAD}-byte KCP header"
                )
            }
            InputError::WrongConv {
                offset,
                expected,
                found,
            } => write!(
                f,
                "segment at offset {offset} has conv {found:#010x}, expected {expected:#010x}"
            ),
            InputError::BadCommand { offset, cmd } => {
                write!(f, "segment at offset {offset} has unknown command {cmd}")
            }
            InputError::LengthPastEnd {
                offset,
                len,
                remaining,
            } => write!(
                f,
                "segment at offset {offset} declares {len} payload bytes but only {remaining} remain"
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// Iterator over the segments of one datagram; see [`segments`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

/// Walks the segments packed in `datagram`, as kcp-go does: while at least 24 bytes remain, decode a header and
/// take `len` payload bytes. Fewer than 24 trailing bytes are ignored (kcp-go ignores them too). Yields an error
/// (and then stops) for a bad command or a length past the end; the conv is not checked here.
///
/// ```
/// use kcp::proto::{segments, Cmd, SegmentHeader, OVERHEAD};
/// let mut dgram = [0u8; OVERHEAD + 2];
/// let h = SegmentHeader { conv: 7, cmd: Cmd::Push, frg: 0, wnd: 32, ts: 1, sn: 0, una: 0, len: 2 };
/// h.encode(&mut dgram);
/// let segs: Vec<_> = segments(&dgram).collect::<Result<_, _>>().unwrap();
/// assert_eq!(segs.len(), 1);
/// assert_eq!(segs[0].0, h);
/// ```
pub fn segments(datagram: &[u8]) -> Segments<'_> {
    Segments {
        buf: datagram,
        offset: 0,
        failed: false,
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<(SegmentHeader, &'a [u8]), InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = &self.buf[self.offset..];
        if rest.len() < OVERHEAD {
            return None;
        }
        let offset = self.offset;
        let h = match SegmentHeader::decode(rest) {
            Ok(h) => h,
            Err(InputError::BadCommand { cmd, .. }) => {
                self.failed = true;
                return Some(Err(InputError::BadCommand { offset, cmd }));
            }
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let remaining = rest.len() - OVERHEAD;
        if h.len as usize > remaining {
            self.failed = true;
            return Some(Err(InputError::LengthPastEnd {
                offset,
                len: h.len,
                remaining,
            }));
        }
        let data = &rest[OVERHEAD..OVERHEAD + h.len as usize];
        self.offset += OVERHEAD + h.len as usize;
        Some(Ok((h, data)))
    }
}

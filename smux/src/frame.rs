//! The smux frame codec: an 8-byte header (`ver`, `cmd`, `length` LE u16, `sid` LE u32) and a payload.
//!
//! Decoding follows xtaci/smux v1.5.16 byte for byte: SYN, FIN and NOP carry no payload whatever `length`
//! says, UPD always carries exactly 8 bytes, PSH carries `length` bytes. Anything else ends the session.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::Error;

/// Length of a frame header in bytes.
pub const HEADER_LEN: usize = 8;
/// Length of the UPD payload (consumed LE u32, window LE u32).
pub const UPD_PAYLOAD_LEN: usize = 8;

/// A frame command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cmd {
    /// Open a stream.
    Syn = 0,
    /// Close a stream (the sender will send no more data on it).
    Fin = 1,
    /// Stream data.
    Psh = 2,
    /// Keepalive, stream id 0.
    Nop = 3,
    /// v2 window update: consumed bytes and window.
    Upd = 4,
}

impl Cmd {
    /// Parses a command byte; `None` for values above 4.
    pub fn from_u8(b: u8) -> Option<Cmd> {
        Some(match b {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            _ => return None,
        })
    }
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version byte (1 or 2).
    pub version: u8,
    /// Command.
    pub cmd: Cmd,
    /// Payload length as written on the wire.
    pub length: u16,
    /// Stream id.
    pub sid: u32,
}

impl Header {
    /// Encodes the header into its 8 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.version;
        b[1] = self.cmd as u8;
        b[2..4].copy_from_slice(&self.length.to_le_bytes());
        b[4..8].copy_from_slice(&self.sid.to_le_bytes());
        b
    }

    /// Appends the encoded header to `dst`.
    pub fn put(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.encode());
    }

    /// Decodes a header, checking the version against `expected_version`.
    pub fn decode(b: &[u8; HEADER_LEN], expected_version: u8) -> Result<Header, Error> {
        if b[0] != expected_version {
            return Err(Error::BadVersion {
                expected: expected_version,
                got: b[0],
            });
        }
        let cmd = Cmd::from_u8(b[1]).ok_or(Error::UnknownCommand(b[1]))?;
        Ok(Header {
            version: b[0],
            cmd,
            length: u16::from_le_bytes([b[2], b[3]]),
            sid: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// SYN: the peer opens stream `sid`.
    Syn {
        /// Stream id.
        sid: u32,
    },
    /// FIN: the peer finished stream `sid`.
    Fin {
        /// Stream id.
        sid: u32,
    },
    /// PSH: data for stream `sid`.
    Psh {
        /// Stream id.
        sid: u32,
        /// The payload (may be empty).
        data: Bytes,
    },
    /// NOP keepalive.
    Nop {
        /// Stream id (0 when sent by smux).
        sid: u32,
    },
    /// UPD window update (v2).
    Upd {
        /// Stream id.
        sid: u32,
        /// Total bytes the peer's application has read from the stream (wrapping).
        consumed: u32,
        /// The peer's receive window for the stream.
        window: u32,
    },
}

impl Frame {
    /// Appends this frame's wire bytes (header + payload) for protocol `version` to `dst`.
    ///
    /// # Panics
    /// Panics if a PSH payload is longer than 65535 bytes (a caller bug, never network input).
    pub fn encode(&self, version: u8, dst: &mut BytesMut) {
        let (cmd, sid, length) = match self {
            Frame::Syn { sid } => (Cmd::Syn, *sid, 0),
            Frame::Fin { sid } => (Cmd::Fin, *sid, 0),
            Frame::Nop { sid } => (Cmd::Nop, *sid, 0),
            Frame::Psh { sid, data } => {
                let len = u16::try_from(data.len()).expect("PSH payload longer than 65535 bytes");
                (Cmd::Psh, *sid, len)
            }
            Frame::Upd { sid, .. } => (Cmd::Upd, *sid, UPD_PAYLOAD_LEN as u16),
        };
        Header {
            version,
            cmd,
            length,
            sid,
        }
        .put(dst);
        match self {
            Frame::Psh { data, .. } => dst.put_slice(data),
            Frame::Upd {
                consumed, window, ..
            } => {
                dst.put_u32_le(*consumed);
                dst.put_u32_le(*window);
            }
            _ => {}
        }
    }
}

/// Incremental frame decoder over a receive buffer.
#[derive(Debug, Clone)]
pub struct Decoder {
    version: u8,
    max_payload: usize,
}

impl Decoder {
    /// A decoder for protocol `version` that rejects PSH payloads longer than `max_payload` bytes.
    pub fn new(version: u8, max_payload: usize) -> Decoder {
        Decoder {
            version,
            max_payload,
        }
    }

    /// How many bytes of `buf` the next frame needs in total (header included), once its header is known.
    /// Returns `HEADER_LEN` when fewer than 8 bytes are buffered.
    pub fn needed(&self, buf: &[u8]) -> usize {
        if buf.len() < HEADER_LEN {
            return HEADER_LEN;
        }
        match Cmd::from_u8(buf[1]) {
            Some(Cmd::Psh) => HEADER_LEN + u16::from_le_bytes([buf[2], buf[3]]) as usize,
            Some(Cmd::Upd) => HEADER_LEN + UPD_PAYLOAD_LEN,
            _ => HEADER_LEN,
        }
    }

    /// Looks at the front of `buf` without consuming anything: `Ok(None)` while the next frame is
    /// incomplete, else its header and its total length on the wire (header + payload as smux reads it).
    /// The payload of a PSH frame is `buf[HEADER_LEN..total]`; of an UPD frame the next 8 bytes.
    pub fn peek(&self, buf: &[u8]) -> Result<Option<(Header, usize)>, Error> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut hb = [0u8; HEADER_LEN];
        hb.copy_from_slice(&buf[..HEADER_LEN]);
        let h = Header::decode(&hb, self.version)?;
        let total = match h.cmd {
            Cmd::Syn | Cmd::Fin | Cmd::Nop => HEADER_LEN,
            Cmd::Upd => HEADER_LEN + UPD_PAYLOAD_LEN,
            Cmd::Psh => {
                let len = h.length as usize;
                if len > self.max_payload {
                    return Err(Error::OversizeFrame {
                        length: len,
                        max: self.max_payload,
                    });
                }
                HEADER_LEN + len
            }
        };
        Ok((buf.len() >= total).then_some((h, total)))
    }

    /// Takes one complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole frame (nothing is consumed). On error nothing
    /// is consumed either: the bytes after a bad header are never interpreted.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut hb = [0u8; HEADER_LEN];
        hb.copy_from_slice(&buf[..HEADER_LEN]);
        let h = Header::decode(&hb, self.version)?;
        let sid = h.sid;
        let frame = match h.cmd {
            Cmd::Syn | Cmd::Fin | Cmd::Nop => {
                buf.advance(HEADER_LEN);
                match h.cmd {
                    Cmd::Syn => Frame::Syn { sid },
                    Cmd::Fin => Frame::Fin { sid },
                    _ => Frame::Nop { sid },
                }
            }
            Cmd::Upd => {
                if buf.len() < HEADER_LEN + UPD_PAYLOAD_LEN {
                    return Ok(None);
                }
                buf.advance(HEADER_LEN);
                let consumed = buf.get_u32_le();
                let window = buf.get_u32_le();
                Frame::Upd {
                    sid,
                    consumed,
                    window,
                }
            }
            Cmd::Psh => {
                let len = h.length as usize;
                if len > self.max_payload {
                    return Err(Error::OversizeFrame {
                        length: len,
                        max: self.max_payload,
                    });
                }
                if buf.len() < HEADER_LEN + len {
                    return Ok(None);
                }
                buf.advance(HEADER_LEN);
                Frame::Psh {
                    sid,
                    data: buf.split_to(len).freeze(),
                }
            }
        };
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_commands() {
        let frames = [
            Frame::Syn { sid: 3 },
            Frame::Fin { sid: 5 },
            Frame::Nop { sid: 0 },
            Frame::Psh {
                sid: 7,
                data: Bytes::from_static(b"abc"),
            },
            Frame::Upd {
                sid: 9,
                consumed: 1,
                window: 2,
            },
        ];
        for v in [1u8, 2] {
            let mut buf = BytesMut::new();
            for f in &frames {
                f.encode(v, &mut buf);
            }
            let d = Decoder::new(v, 65535);
            for f in &frames {
                assert_eq!(d.decode(&mut buf).unwrap().as_ref(), Some(f));
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn partial_frames_consume_nothing() {
        let mut full = BytesMut::new();
        Frame::Psh {
            sid: 3,
            data: Bytes::from_static(b"hello"),
        }
        .encode(1, &mut full);
        let d = Decoder::new(1, 65535);
        for cut in 0..full.len() {
            let mut b = BytesMut::from(&full[..cut]);
            assert_eq!(d.decode(&mut b).unwrap(), None);
            assert_eq!(b.len(), cut);
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let d = Decoder::new(1, 100);
        let mut b = BytesMut::from(&[2u8, 0, 0, 0, 3, 0, 0, 0][..]);
        assert_eq!(
            d.decode(&mut b),
            Err(Error::BadVersion {
                expected: 1,
                got: 2
            })
        );
        assert_eq!(b.len(), 8);
        let mut b = BytesMut::from(&[1u8, 5, 0, 0, 3, 0, 0, 0][..]);
        assert_eq!(d.decode(&mut b), Err(Error::UnknownCommand(5)));
        let mut b = BytesMut::from(&[1u8, 2, 101, 0, 3, 0, 0, 0][..]);
        assert_eq!(
            d.decode(&mut b),
            Err(Error::OversizeFrame {
                length: 101,
                max: 100
            })
        );
    }

    #[test]
    fn control_frames_ignore_length_like_smux() {
        // SYN with a bogus length: smux reads only the header; so do we.
        let d = Decoder::new(1, 65535);
        let mut b = BytesMut::from(&[1u8, 0, 9, 0, 3, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0][..]);
        assert_eq!(d.decode(&mut b).unwrap(), Some(Frame::Syn { sid: 3 }));
        assert_eq!(d.decode(&mut b).unwrap(), Some(Frame::Nop { sid: 0 }));
        // UPD with length 0 still carries 8 bytes.
        let mut b = BytesMut::from(&[2u8, 4, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0][..]);
        assert_eq!(
            d.decode(&mut b),
            Err(Error::BadVersion {
                expected: 1,
                got: 2
            })
        );
        let d2 = Decoder::new(2, 65535);
        assert_eq!(
            d2.decode(&mut b).unwrap(),
            Some(Frame::Upd {
                sid: 3,
                consumed: 1,
                window: 2
            })
        );
    }
}

//! The snappy framing format as kcptun's `CompStream` speaks it, without I/O.
//!
//! Chunks: 1-byte type, 3-byte little-endian body length. The stream starts with the identifier chunk;
//! data chunks carry the masked CRC-32C of their uncompressed bytes, then the bytes (type 0x01) or their
//! snappy block encoding (type 0x00). See `shared/spec/kcptun.md` section 6. The block codec is the `snap`
//! crate's; the framing is here so it can run over an async byte stream.

use bytes::{Buf, BufMut, BytesMut};

/// The stream identifier chunk, `ff 06 00 00 "sNaPpY"`.
pub const STREAM_IDENTIFIER: &[u8; 10] = b"\xff\x06\x00\x00sNaPpY";
/// Most uncompressed bytes in one data chunk.
pub const MAX_BLOCK: usize = 65536;
/// Longest chunk body a reader accepts (golang/snappy's limit: CRC + worst-case compressed 64 KiB).
pub const MAX_CHUNK_BODY: usize = 76494;

const CHUNK_COMPRESSED: u8 = 0x00;
const CHUNK_UNCOMPRESSED: u8 = 0x01;
const CHUNK_PADDING: u8 = 0xfe;
const CHUNK_IDENTIFIER: u8 = 0xff;

/// The CRC-32C of `data`, masked as the framing format requires.
pub fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Why a framed stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first chunk was not the stream identifier.
    #[error("snappy stream does not start with the stream identifier")]
    MissingIdentifier,
    /// An identifier chunk with the wrong body.
    #[error("snappy stream identifier is corrupt")]
    BadIdentifier,
    /// A chunk of a reserved unskippable type (0x02..=0x7f).
    #[error("snappy chunk of reserved type {0:#04x}")]
    ReservedType(u8),
    /// A chunk body longer than any valid chunk.
    #[error("snappy chunk of {0} bytes exceeds the limit")]
    ChunkTooLong(usize),
    /// A data chunk shorter than its checksum, or expanding beyond 64 KiB, or undecodable.
    #[error("snappy chunk is corrupt")]
    Corrupt,
    /// The checksum of a data chunk does not match its bytes.
    #[error("snappy chunk checksum mismatch")]
    Checksum,
}

/// Writes data as framed chunks.
pub struct Encoder {
    started: bool,
    raw: snap::raw::Encoder,
    scratch: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("started", &self.started)
            .finish()
    }
}

impl Encoder {
    /// A new encoder; the identifier goes out with the first data.
    pub fn new() -> Encoder {
        Encoder {
            started: false,
            raw: snap::raw::Encoder::new(),
            scratch: Vec::new(),
        }
    }

    /// Appends the chunks for `data` to `out` (the identifier first if this is the first call). Each piece
    /// of at most 64 KiB is sent compressed only when that saves at least 1/8, as golang/snappy decides.
    pub fn encode(&mut self, mut data: &[u8], out: &mut BytesMut) {
        if data.is_empty() {
            return;
        }
        if !self.started {
            out.extend_from_slice(STREAM_IDENTIFIER);
            self.started = true;
        }
        while !data.is_empty() {
            let n = data.len().min(MAX_BLOCK);
            let (piece, rest) = data.split_at(n);
            data = rest;
            let crc = masked_crc(piece);
            self.scratch.resize(snap::raw::max_compress_len(n), 0);
            // Compression of a piece this size cannot fail; if it ever did, sending it raw is still valid.
            let clen = self
                .raw
                .compress(piece, &mut self.scratch)
                .unwrap_or(usize::MAX);
            let (kind, body) = if clen < n - n / 8 {
                (CHUNK_COMPRESSED, &self.scratch[..clen])
            } else {
                (CHUNK_UNCOMPRESSED, piece)
            };
            let len = (body.len() + 4) as u32;
            out.reserve(8 + body.len());
            out.put_u32_le(u32::from(kind) | (len << 8));
            out.put_u32_le(crc);
            out.extend_from_slice(body);
        }
    }
}

/// Reads framed chunks back into data.
pub struct Decoder {
    seen_identifier: bool,
    raw: snap::raw::Decoder,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("seen_identifier", &self.seen_identifier)
            .finish()
    }
}

impl Decoder {
    /// A new decoder expecting the stream identifier first.
    pub fn new() -> Decoder {
        Decoder {
            seen_identifier: false,
            raw: snap::raw::Decoder::new(),
        }
    }

    /// Consumes at most one whole chunk from the front of `input`, appending its data (at most 64 KiB) to
    /// `out`. Returns `Ok(false)` when `input` holds no whole chunk yet (nothing consumed).
    pub fn decode_chunk(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
    ) -> Result<bool, FrameError> {
        if input.len() < 4 {
            return Ok(false);
        }
        let kind = input[0];
        let len = usize::from(input[1]) | usize::from(input[2]) << 8 | usize::from(input[3]) << 16;
        if len > MAX_CHUNK_BODY {
            return Err(FrameError::ChunkTooLong(len));
        }
        if input.len() < 4 + len {
            return Ok(false);
        }
        let chunk = &input[4..4 + len];
        if kind == CHUNK_IDENTIFIER {
            if chunk != &STREAM_IDENTIFIER[4..] {
                return Err(FrameError::BadIdentifier);
            }
            self.seen_identifier = true;
        } else if !self.seen_identifier {
            return Err(FrameError::MissingIdentifier);
        } else if kind == CHUNK_COMPRESSED || kind == CHUNK_UNCOMPRESSED {
            if len < 4 {
                return Err(FrameError::Corrupt);
            }
            let crc = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let body = &chunk[4..];
            let start = out.len();
            if kind == CHUNK_COMPRESSED {
                let n = snap::raw::decompress_len(body).map_err(|_| FrameError::Corrupt)?;
                if n > MAX_BLOCK {
                    return Err(FrameError::Corrupt);
                }
                out.resize(start + n, 0);
                let got = self.raw.decompress(body, &mut out[start..]);
                if got != Ok(n) {
                    out.truncate(start);
                    return Err(FrameError::Corrupt);
                }
            } else {
                if body.len() > MAX_BLOCK {
                    return Err(FrameError::Corrupt);
                }
                out.extend_from_slice(body);
            }
            if masked_crc(&out[start..]) != crc {
                out.truncate(start);
                return Err(FrameError::Checksum);
            }
        } else if kind != CHUNK_PADDING && kind < 0x80 {
            return Err(FrameError::ReservedType(kind));
        }
        input.advance(4 + len);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn vector() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/spec/vectors/snappy_stream.json"
        );
        let text = std::fs::read_to_string(path).expect("snappy_stream.json");
        serde_json::from_str(&text).expect("json")
    }

    fn decode_all(d: &mut Decoder, bytes: &[u8]) -> Result<Vec<u8>, FrameError> {
        let mut input = BytesMut::from(bytes);
        let mut out = BytesMut::new();
        while d.decode_chunk(&mut input, &mut out)? {}
        assert!(input.is_empty(), "trailing partial chunk");
        Ok(out.to_vec())
    }

    #[test]
    fn decodes_kcptuns_output() {
        let v = vector();
        let mut d = Decoder::new();
        for w in v["writes"].as_array().unwrap() {
            let out = hex::decode(w["output_hex"].as_str().unwrap()).unwrap();
            let want = hex::decode(w["write_hex"].as_str().unwrap()).unwrap();
            assert_eq!(decode_all(&mut d, &out).unwrap(), want);
        }
    }

    #[test]
    fn encodes_like_kcptun() {
        // The uncompressed chunk is deterministic; the compressed one must at least be compressed and
        // decode to the same bytes with the independent `snap` frame reader.
        let v = vector();
        let writes = v["writes"].as_array().unwrap();
        let mut e = Encoder::new();
        let mut all = BytesMut::new();
        let mut input = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            let data = hex::decode(w["write_hex"].as_str().unwrap()).unwrap();
            let mut out = BytesMut::new();
            e.encode(&data, &mut out);
            if i == 0 {
                assert_eq!(hex::encode(&out), w["output_hex"].as_str().unwrap());
            } else {
                assert_eq!(out[0], CHUNK_COMPRESSED);
                assert_eq!(
                    &out[4..8],
                    &hex::decode(w["output_hex"].as_str().unwrap()).unwrap()[4..8]
                );
            }
            all.extend_from_slice(&out);
            input.extend_from_slice(&data);
        }
        let mut back = Vec::new();
        snap::read::FrameDecoder::new(&all[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn round_trips_against_snap_both_ways() {
        let mut data = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..300_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // Half compressible, half noise, to get both chunk types and pieces over 64 KiB.
            data.push(if (i / 50_000) % 2 == 0 {
                (i % 7) as u8
            } else {
                (x >> 16) as u8
            });
        }
        let mut e = Encoder::new();
        let mut ours = BytesMut::new();
        for part in data.chunks(70_001) {
            e.encode(part, &mut ours);
        }
        assert!(ours.len() < data.len());
        let mut back = Vec::new();
        snap::read::FrameDecoder::new(&ours[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);

        let mut theirs = Vec::new();
        let mut w = snap::write::FrameEncoder::new(&mut theirs);
        w.write_all(&data).unwrap();
        w.flush().unwrap();
        drop(w);
        assert_eq!(decode_all(&mut Decoder::new(), &theirs).unwrap(), data);
    }

    #[test]
    fn byte_by_byte_input_waits_for_whole_chunks() {
        let mut e = Encoder::new();
        let mut framed = BytesMut::new();
        e.encode(b"hello hello hello hello hello hello", &mut framed);
        let mut d = Decoder::new();
        let mut input = BytesMut::new();
        let mut out = BytesMut::new();
        for b in framed.iter() {
            input.extend_from_slice(&[*b]);
            while d.decode_chunk(&mut input, &mut out).unwrap() {}
        }
        assert_eq!(&out[..], b"hello hello hello hello hello hello");
    }

    #[test]
    fn hostile_input_is_refused() {
        let mut e = Encoder::new();
        let mut good = BytesMut::new();
        e.encode(b"0123456789abcdef", &mut good);
        // No identifier.
        assert_eq!(
            decode_all(&mut Decoder::new(), &good[10..]),
            Err(FrameError::MissingIdentifier)
        );
        // Flipped data byte: checksum.
        let mut bad = good.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            decode_all(&mut Decoder::new(), &bad),
            Err(FrameError::Checksum)
        );
        // Reserved type.
        let mut bad = STREAM_IDENTIFIER.to_vec();
        bad.extend_from_slice(&[0x02, 0, 0, 0]);
        assert_eq!(
            decode_all(&mut Decoder::new(), &bad),
            Err(FrameError::ReservedType(2))
        );
        // Oversize chunk header: refused before buffering its body.
        let mut input = BytesMut::from(&STREAM_IDENTIFIER[..]);
        input.extend_from_slice(&[0x01, 0xff, 0xff, 0xff]);
        let mut d = Decoder::new();
        let mut out = BytesMut::new();
        assert!(d.decode_chunk(&mut input, &mut out).unwrap());
        assert_eq!(
            d.decode_chunk(&mut input, &mut out),
            Err(FrameError::ChunkTooLong(0xff_ffff))
        );
        // Skippable and padding chunks are skipped.
        let mut ok = STREAM_IDENTIFIER.to_vec();
        ok.extend_from_slice(&[0xfe, 2, 0, 0, 9, 9, 0x80, 0, 0, 0]);
        ok.extend_from_slice(&good[10..]);
        assert_eq!(
            decode_all(&mut Decoder::new(), &ok).unwrap(),
            b"0123456789abcdef"
        );
        // Compressed chunk claiming more than 64 KiB.
        let mut bomb = STREAM_IDENTIFIER.to_vec();
        bomb.extend_from_slice(&[0x00, 8, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x08, 0]);
        assert_eq!(
            decode_all(&mut Decoder::new(), &bomb),
            Err(FrameError::Corrupt)
        );
    }
}

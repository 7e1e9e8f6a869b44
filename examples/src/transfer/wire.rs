//! The per-file exchange on one stream.
//!
//! ```text
//! sender   -> "KFT1" | u16 path length | path (UTF-8, '/'-separated, relative) | u64 size
//! receiver -> status: offset it already has (resume point) or a refusal with its reason
//! sender   -> size - offset bytes of the file | SHA-256 of the whole file (32 bytes)
//! receiver -> status: 0 when its SHA-256 of the whole file matches, or the reason it failed
//! ```
//! A status is `0 | u64` (ok, with a value) or `1 | u16 length | message`. All integers big-endian.
//! The receiver may send a refusal at any time (disk full, ...) and close the stream.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAGIC: &[u8; 4] = b"KFT1";
/// Longest relative path accepted (bytes).
pub const MAX_PATH: usize = 4096;
const MAX_MESSAGE: usize = 4096;

/// What the sender offers on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Relative path, `/`-separated.
    pub path: String,
    /// File size in bytes.
    pub size: u64,
}

/// Writes the offer.
pub async fn write_offer<W: AsyncWrite + Unpin>(w: &mut W, o: &Offer) -> io::Result<()> {
    let len = u16::try_from(o.path.len())
        .ok()
        .filter(|&l| (l as usize) <= MAX_PATH)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path too long"))?;
    let mut buf = Vec::with_capacity(14 + o.path.len());
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(o.path.as_bytes());
    buf.extend_from_slice(&o.size.to_be_bytes());
    w.write_all(&buf).await?;
    w.flush().await
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads an offer; anything malformed is an `InvalidData` error.
pub async fn read_offer<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Offer> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).await?;
    if &magic != MAGIC {
        return Err(invalid("not a file-transfer sender (bad magic)"));
    }
    let len = r.read_u16().await? as usize;
    if len == 0 || len > MAX_PATH {
        return Err(invalid(format!("bad path length {len}")));
    }
    let mut path = vec![0u8; len];
    r.read_exact(&mut path).await?;
    let path = String::from_utf8(path).map_err(|_| invalid("path is not UTF-8"))?;
    let size = r.read_u64().await?;
    Ok(Offer { path, size })
}

/// Writes an ok status carrying `value`.
pub async fn write_ok<W: AsyncWrite + Unpin>(w: &mut W, value: u64) -> io::Result<()> {
    let mut buf = [0u8; 9];
    buf[1..].copy_from_slice(&value.to_be_bytes());
    w.write_all(&buf).await?;
    w.flush().await
}

/// Writes a failure status with its reason (truncated to 4096 bytes).
pub async fn write_err<W: AsyncWrite + Unpin>(w: &mut W, msg: &str) -> io::Result<()> {
    let mut end = msg.len().min(MAX_MESSAGE);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    let mut buf = vec![1u8];
    buf.extend_from_slice(&(end as u16).to_be_bytes());
    buf.extend_from_slice(&msg.as_bytes()[..end]);
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads a status: `Ok(Ok(value))`, `Ok(Err(reason))`, or an I/O error.
pub async fn read_status<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Result<u64, String>> {
    match r.read_u8().await? {
        0 => Ok(Ok(r.read_u64().await?)),
        1 => {
            let len = r.read_u16().await? as usize;
            if len > MAX_MESSAGE {
                return Err(invalid("status message too long"));
            }
            let mut msg = vec![0u8; len];
            r.read_exact(&mut msg).await?;
            Ok(Err(String::from_utf8_lossy(&msg).into_owned()))
        }
        t => Err(invalid(format!("bad status tag {t}"))),
    }
}

/// Checks that a received path stays inside the target directory: relative, no `..`, no empty parts.
pub fn safe_relative(path: &str) -> Result<std::path::PathBuf, String> {
    let mut out = std::path::PathBuf::new();
    for part in path.split('/') {
        if part.is_empty()
            || part == "."
            || part == ".."
            || part.contains('\\')
            || part.contains('\0')
        {
            return Err(format!("refusing unsafe path {path:?}"));
        }
        out.push(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn offer_and_status_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let o = Offer {
            path: "dir/ü.bin".into(),
            size: 1 << 40,
        };
        write_offer(&mut a, &o).await.unwrap();
        assert_eq!(read_offer(&mut b).await.unwrap(), o);
        write_ok(&mut a, 77).await.unwrap();
        write_err(&mut a, "disk full").await.unwrap();
        assert_eq!(read_status(&mut b).await.unwrap(), Ok(77));
        assert_eq!(read_status(&mut b).await.unwrap(), Err("disk full".into()));
    }

    #[tokio::test]
    async fn malformed_offers_are_errors() {
        for bytes in [&b"XXXX\0\x01a"[..], b"KFT1\0\0", b"KFT1\xff\xff"] {
            let (mut a, mut b) = tokio::io::duplex(1024);
            a.write_all(bytes).await.unwrap();
            drop(a);
            assert!(read_offer(&mut b).await.is_err());
        }
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for p in [
            "../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a/../../b",
            "",
            "a\\..\\b",
        ] {
            assert!(safe_relative(p).is_err(), "{p}");
        }
        assert_eq!(
            safe_relative("a/b.txt").unwrap(),
            std::path::Path::new("a/b.txt")
        );
    }
}

//! The receiving side: writes each offered file to `<dir>/<path>.part`, resumes a partial file, verifies the
//! whole file's SHA-256 and only then renames it into place.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use sha2::{Digest, Sha256};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::send::io_reason;
use super::wire;
use super::{CHUNK, human_bytes};

/// Accepts senders on `listen` and stores their files under `dir`, until the process ends.
pub async fn serve(listen: &str, dir: PathBuf, config: stack::Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir).map_err(|e| {
        anyhow!(
            "cannot create directory {}: {}",
            dir.display(),
            io_reason(&e)
        )
    })?;
    let addr = crate::addr::resolve(listen)?;
    let listener = stack::KcpSmuxListener::bind(addr, config)
        .await
        .with_context(|| format!("cannot listen on UDP {addr}"))?;
    println!(
        "receiving into {} on {} (Ctrl-C to stop)",
        dir.display(),
        listener.local_addr()
    );
    loop {
        let (stream, peer) = listener.accept().await.context("listener stopped")?;
        let dir = dir.clone();
        tokio::spawn(async move {
            match receive_one(stream, &dir).await {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("from {peer}: {e:#}"),
            }
        });
    }
}

/// Where the file goes and where its partial copy lives.
fn destination(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
    let rel = wire::safe_relative(name)?;
    let dest = dir.join(rel);
    let mut part = dest.clone().into_os_string();
    part.push(".part");
    Ok((dest, PathBuf::from(part)))
}

async fn receive_one(mut stream: stack::Stream, dir: &Path) -> anyhow::Result<String> {
    let offer = wire::read_offer(&mut stream)
        .await
        .context("reading the offer")?;
    let name = offer.path.clone();
    match prepare(dir, &offer).await {
        Ok((file, offset, dest, part)) => {
            wire::write_ok(&mut stream, offset).await?;
            let r = receive_data(&mut stream, file, offset, &offer, &dest, &part).await;
            match r {
                Ok(resumed) => {
                    wire::write_ok(&mut stream, offer.size).await?;
                    let _ = stream.shutdown().await;
                    Ok(format!(
                        "received {name} ({}{}), SHA-256 verified",
                        human_bytes(offer.size),
                        if resumed > 0 {
                            format!(", resumed at {}", human_bytes(resumed))
                        } else {
                            String::new()
                        }
                    ))
                }
                Err(Failure::Tell(reason)) => {
                    let _ = wire::write_err(&mut stream, &reason).await;
                    let _ = stream.shutdown().await;
                    Err(anyhow!("{name}: {reason}"))
                }
                Err(Failure::Gone(got)) => Err(anyhow!(
                    "{name}: sender gone after {} of {}; the partial file is kept for resuming",
                    human_bytes(got),
                    human_bytes(offer.size)
                )),
            }
        }
        Err(reason) => {
            wire::write_err(&mut stream, &reason).await?;
            let _ = stream.shutdown().await;
            Err(anyhow!("refused {name}: {reason}"))
        }
    }
}

/// Opens the partial file (or the finished one, to verify it again) and says how much of it is there.
async fn prepare(dir: &Path, offer: &wire::Offer) -> Result<(File, u64, PathBuf, PathBuf), String> {
    let (dest, part) = destination(dir, &offer.path)?;
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| {
            format!(
                "cannot create directory {}: {}",
                parent.display(),
                io_reason(&e)
            )
        })?;
    }
    if let Ok(meta) = tokio::fs::metadata(&dest).await {
        if meta.len() != offer.size || !meta.is_file() {
            return Err(format!(
                "{} already exists ({}); move it away to receive a new copy",
                offer.path,
                human_bytes(meta.len())
            ));
        }
        // Already complete: the sender still sends its SHA-256, so the copy is verified, not assumed.
        let f = File::open(&dest)
            .await
            .map_err(|e| format!("cannot read {}: {}", dest.display(), io_reason(&e)))?;
        return Ok((f, offer.size, dest.clone(), dest));
    }
    let mut f = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&part)
        .await
        .map_err(|e| format!("cannot create {}: {}", part.display(), io_reason(&e)))?;
    let mut have = f.metadata().await.map_err(|e| e.to_string())?.len();
    if have > offer.size {
        // Not a prefix of this file: start over.
        f.set_len(0).await.map_err(|e| e.to_string())?;
        have = 0;
    }
    f.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(|e| e.to_string())?;
    Ok((f, have, dest, part))
}

enum Failure {
    /// Tell the sender why and stop.
    Tell(String),
    /// The sender went away after this many bytes (the partial file stays).
    Gone(u64),
}

async fn receive_data(
    stream: &mut stack::Stream,
    mut file: File,
    offset: u64,
    offer: &wire::Offer,
    dest: &Path,
    part: &Path,
) -> Result<u64, Failure> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut have = 0u64;
    while have < offset {
        let want = (offset - have).min(CHUNK as u64) as usize;
        file.read_exact(&mut buf[..want]).await.map_err(|e| {
            Failure::Tell(format!("re-reading {}: {}", part.display(), io_reason(&e)))
        })?;
        hasher.update(&buf[..want]);
        have += want as u64;
    }
    let mut left = offer.size - offset;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let n = match stream.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => {
                let _ = file.flush().await;
                return Err(Failure::Gone(offer.size - left));
            }
            Ok(n) => n,
        };
        file.write_all(&buf[..n]).await.map_err(|e| {
            let why = if e.kind() == ErrorKind::StorageFull
                || e.raw_os_error() == Some(libc::ENOSPC)
            {
                format!(
                    "disk full writing {} (partial file kept; free space and send again to resume)",
                    part.display()
                )
            } else {
                format!("writing {}: {}", part.display(), io_reason(&e))
            };
            Failure::Tell(why)
        })?;
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    file.flush()
        .await
        .and(file.sync_all().await)
        .map_err(|e| Failure::Tell(format!("writing {}: {}", part.display(), io_reason(&e))))?;
    let mut theirs = [0u8; 32];
    stream
        .read_exact(&mut theirs)
        .await
        .map_err(|_| Failure::Gone(offer.size))?;
    let ours = hasher.finalize();
    if ours.as_slice() != theirs {
        // A corrupt prefix (or a changed source file) can only be fixed by starting over.
        let _ = tokio::fs::remove_file(part).await;
        return Err(Failure::Tell(format!(
            "SHA-256 mismatch for {} (ours {}, sender's {}); partial file removed, send again",
            offer.path,
            hex::encode(&ours[..8]),
            hex::encode(&theirs[..8])
        )));
    }
    if part != dest {
        tokio::fs::rename(part, dest).await.map_err(|e| {
            Failure::Tell(format!(
                "renaming {} into place: {}",
                part.display(),
                io_reason(&e)
            ))
        })?;
    }
    Ok(offset)
}

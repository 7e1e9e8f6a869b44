//! The sending side: files and directories, several streams at once, resuming where the receiver stopped.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::wire::{self, Offer};
use super::{CHUNK, human_bytes, progress_bar};

/// One file to send.
#[derive(Debug, Clone)]
pub struct Item {
    /// Where it is.
    pub local: PathBuf,
    /// The name the receiver gets (`/`-separated, relative).
    pub name: String,
    /// Size when listed.
    pub size: u64,
}

/// Lists the files under `paths` (a directory contributes every file below it, named from the directory's
/// own name down). Every failure names the path.
pub fn list(paths: &[PathBuf]) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| anyhow!("cannot read {}: {}", p.display(), io_reason(&e)))?;
        let base = p
            .canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| anyhow!("{} has no file name to send it under", p.display()))?;
        if meta.is_dir() {
            walk(p, &base, &mut items)?;
        } else {
            check_readable(p)?;
            items.push(Item {
                local: p.clone(),
                name: base,
                size: meta.len(),
            });
        }
    }
    if items.is_empty() {
        bail!("nothing to send (empty directories only)");
    }
    Ok(items)
}

fn walk(dir: &Path, name: &str, items: &mut Vec<Item>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("cannot list directory {}: {}", dir.display(), io_reason(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("cannot list directory {}: {}", dir.display(), io_reason(&e)))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let child = format!("{name}/{}", e.file_name().to_string_lossy());
        let meta = std::fs::metadata(&path)
            .map_err(|err| anyhow!("cannot read {}: {}", path.display(), io_reason(&err)))?;
        if meta.is_dir() {
            walk(&path, &child, items)?;
        } else if meta.is_file() {
            check_readable(&path)?;
            items.push(Item {
                local: path,
                name: child,
                size: meta.len(),
            });
        }
    }
    Ok(())
}

fn check_readable(p: &Path) -> anyhow::Result<()> {
    std::fs::File::open(p)
        .map_err(|e| anyhow!("cannot read {}: {}", p.display(), io_reason(&e)))?;
    Ok(())
}

/// A short, plain reason for an I/O error ("permission denied", "no such file or directory", ...).
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        StorageFull => "disk full".into(),
        _ => e.to_string(),
    }
}

/// What a finished send did.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Files sent and verified.
    pub files: usize,
    /// Bytes the files hold.
    pub total: u64,
    /// Bytes that went over the network (less than `total` when resuming).
    pub sent: u64,
    /// Seconds it took.
    pub secs: f64,
}

/// Sends `items` to the receiver at `to` over `streams` streams at once.
pub async fn send(
    to: &str,
    items: Vec<Item>,
    streams: usize,
    config: &stack::Config,
) -> anyhow::Result<Summary> {
    let addr = crate::addr::resolve(to)?;
    let client = stack::connect(addr, config)
        .await
        .map_err(|e| anyhow!("cannot reach the receiver at {addr}: {e}"))?;
    let total: u64 = items.iter().map(|i| i.size).sum();
    let files = items.len();
    let bar = progress_bar(total, &format!("sending {files} file(s)"));
    let queue = Arc::new(Mutex::new(VecDeque::from(items)));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..streams.max(1).min(files) {
        let (queue, client, bar) = (queue.clone(), client.clone(), bar.clone());
        tasks.spawn(async move {
            let mut sent = 0u64;
            loop {
                let Some(item) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                    return Ok::<u64, anyhow::Error>(sent);
                };
                sent += send_one(&client, &item, &bar)
                    .await
                    .with_context(|| item.name.clone())?;
            }
        });
    }
    let mut sent = 0;
    let mut first_err = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(n)) => sent += n,
            Ok(Err(e)) => {
                if first_err.is_none() {
                    first_err = Some(e);
                    // One failure stops the rest: the user fixes it and runs again, which resumes.
                    queue.lock().unwrap_or_else(|p| p.into_inner()).clear();
                }
            }
            Err(e) => first_err = first_err.or(Some(anyhow!("worker failed: {e}"))),
        }
    }
    client.close().await;
    if let Some(e) = first_err {
        bar.abandon();
        return Err(e);
    }
    bar.finish();
    Ok(Summary {
        files,
        total,
        sent,
        secs: start.elapsed().as_secs_f64(),
    })
}

async fn send_one(client: &stack::Client, item: &Item, bar: &ProgressBar) -> anyhow::Result<u64> {
    let stream = client
        .open_stream()
        .await
        .map_err(|e| anyhow!("cannot open a stream: {e}"))?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut file = File::open(&item.local)
        .await
        .map_err(|e| anyhow!("cannot read {}: {}", item.local.display(), io_reason(&e)))?;
    let size = file.metadata().await?.len();
    wire::write_offer(
        &mut wr,
        &Offer {
            path: item.name.clone(),
            size,
        },
    )
    .await
    .map_err(gone)?;
    let offset = match wire::read_status(&mut rd).await.map_err(gone)? {
        Ok(o) if o <= size => o,
        Ok(o) => bail!("receiver claims {o} bytes of a {size}-byte file"),
        Err(reason) => bail!("receiver refused: {reason}"),
    };
    // The receiver's verdict can come at any time (disk full while we write): read it concurrently.
    let verdict = tokio::spawn(async move { wire::read_status(&mut rd).await });
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    // Hash the part the receiver already has, so the final check covers the whole file.
    let mut done = 0u64;
    while done < offset {
        let want = (offset - done).min(CHUNK as u64) as usize;
        file.read_exact(&mut buf[..want]).await?;
        hasher.update(&buf[..want]);
        done += want as u64;
    }
    bar.inc(offset);
    if offset > 0 {
        bar.suspend(|| eprintln!("resuming {} at {}", item.name, human_bytes(offset)));
    }
    let mut left = size - offset;
    let write_result: anyhow::Result<()> = async {
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            file.read_exact(&mut buf[..want])
                .await
                .map_err(|e| anyhow!("reading {}: {}", item.local.display(), io_reason(&e)))?;
            hasher.update(&buf[..want]);
            wr.write_all(&buf[..want]).await.map_err(gone)?;
            bar.inc(want as u64);
            left -= want as u64;
        }
        wr.write_all(&hasher.clone().finalize())
            .await
            .map_err(gone)?;
        wr.flush().await.map_err(gone)?;
        Ok(())
    }
    .await;
    let verdict = verdict.await?;
    match (write_result, verdict) {
        (_, Ok(Err(reason))) => bail!("receiver: {reason}"),
        (Err(e), _) => Err(e),
        (Ok(()), Ok(Ok(_))) => {
            let _ = wr.shutdown().await;
            Ok(size - offset)
        }
        (Ok(()), Err(e)) => Err(gone(e)),
    }
}

fn gone(e: std::io::Error) -> anyhow::Error {
    anyhow!("receiver gone ({e}); run the same command again to resume")
}

//! The room: accepts users, broadcasts their lines, announces joins and leaves.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast;
use tokio_util::codec::{Framed, LinesCodec};

use super::{MAX_LINE, valid_name};

/// One line for everyone, with the sender (who does not get its own message back).
#[derive(Clone, Debug)]
struct Event {
    from: Option<u64>,
    line: String,
}

struct Room {
    names: Mutex<BTreeSet<String>>,
    tx: broadcast::Sender<Event>,
}

/// Runs the room on `listen` until the process ends.
pub async fn serve(listen: &str, config: stack::Config) -> anyhow::Result<()> {
    let addr = crate::addr::resolve(listen)?;
    let listener = stack::KcpSmuxListener::bind(addr, config)
        .await
        .with_context(|| format!("cannot listen on UDP {addr}"))?;
    println!("chat server on {} (Ctrl-C to stop)", listener.local_addr());
    let (tx, _) = broadcast::channel(1024);
    let room = Arc::new(Room {
        names: Mutex::new(BTreeSet::new()),
        tx,
    });
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = listener.accept().await.context("listener stopped")?;
        next_id += 1;
        let room = room.clone();
        let id = next_id;
        tokio::spawn(async move {
            if let Err(e) = user(stream, peer, id, &room).await {
                tracing::debug!(%peer, "user session ended: {e}");
            }
        });
    }
}

async fn user(stream: stack::Stream, peer: SocketAddr, id: u64, room: &Room) -> anyhow::Result<()> {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    let Some(name) = lines.next().await.transpose()? else {
        return Ok(());
    };
    let name = name.trim().to_string();
    if !valid_name(&name) {
        lines
            .send("! names are 1 to 32 characters without spaces".to_string())
            .await?;
        return Ok(());
    }
    if !room
        .names
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.clone())
    {
        lines
            .send(format!("! the name {name} is taken, pick another"))
            .await?;
        return Ok(());
    }
    let mut rx = room.tx.subscribe();
    let who = |room: &Room| {
        room.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    lines
        .send(format!("* welcome {name}; here: {}", who(room)))
        .await?;
    let _ = room.tx.send(Event {
        from: Some(id),
        line: format!("* {name} joined"),
    });
    println!("{name} joined from {peer}");
    let result: anyhow::Result<()> = async {
        loop {
            tokio::select! {
                msg = lines.next() => match msg {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(text)) => {
                        let text = text.trim_end();
                        if text == "/who" {
                            lines.send(format!("* here: {}", who(room))).await?;
                        } else if !text.is_empty() {
                            let _ = room.tx.send(Event { from: Some(id), line: format!("<{name}> {text}") });
                        }
                    }
                },
                ev = rx.recv() => match ev {
                    Ok(ev) if ev.from != Some(id) => lines.send(ev.line).await?,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        lines.send(format!("* {n} messages skipped (your connection is slow)")).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
    .await;
    room.names
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&name);
    let _ = room.tx.send(Event {
        from: Some(id),
        line: format!("* {name} left"),
    });
    println!("{name} left");
    result
}

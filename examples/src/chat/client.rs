//! The user's side: a prompt that incoming lines never garble (rustyline's external printer redraws the
//! prompt and the half-typed line below each message), or plain lines when stdin is not a terminal.

use std::io::IsTerminal;

use anyhow::{Context, anyhow, bail};
use futures::{SinkExt, StreamExt};
use rustyline::ExternalPrinter;
use rustyline::error::ReadlineError;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LinesCodec};

use super::{MAX_LINE, valid_name};

const HELP: &str = "* commands: /who (who is here), /quit (or Ctrl-D)";

/// Joins the room at `server` as `name` and runs until the user quits or the server goes away.
pub async fn join(server: &str, name: &str, config: stack::Config) -> anyhow::Result<()> {
    if !valid_name(name) {
        bail!("--name must be 1 to 32 characters without spaces");
    }
    let addr = crate::addr::resolve(server)?;
    let client = stack::connect(addr, &config)
        .await
        .map_err(|e| anyhow!("cannot reach the chat server at {addr}: {e}"))?;
    let stream = client.open_stream().await.context("cannot open a stream")?;
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    lines.send(name.to_string()).await?;
    // The welcome (or a refusal) comes first.
    let first = lines
        .next()
        .await
        .ok_or_else(|| anyhow!("the server closed the connection"))??;
    if let Some(why) = first.strip_prefix("! ") {
        bail!("{why}");
    }
    let (input_tx, mut input_rx) = mpsc::channel::<String>(64);
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut printer: Box<dyn FnMut(String) + Send> = if interactive {
        let mut rl = rustyline::DefaultEditor::new()?;
        let mut ext = rl.create_external_printer()?;
        let prompt = format!("{name}> ");
        std::thread::spawn(move || read_terminal(rl, &prompt, input_tx));
        Box::new(move |line| {
            let _ = ext.print(line);
        })
    } else {
        std::thread::spawn(move || read_plain(input_tx));
        Box::new(|line| println!("{line}"))
    };
    printer(first);
    printer(HELP.to_string());
    loop {
        tokio::select! {
            input = input_rx.recv() => match input {
                None => break,
                Some(line) if line.trim() == "/quit" => break,
                Some(line) if line.trim() == "/help" => printer(HELP.to_string()),
                Some(line) => {
                    if line.len() > MAX_LINE {
                        printer(format!("* not sent: lines are at most {MAX_LINE} bytes"));
                        continue;
                    }
                    lines.send(line).await.map_err(|e| anyhow!("connection to the server lost: {e}"))?;
                }
            },
            msg = lines.next() => match msg {
                Some(Ok(line)) => printer(line),
                Some(Err(e)) => bail!("connection to the server lost: {e}"),
                None => bail!("the server closed the connection"),
            },
        }
    }
    let _ = SinkExt::<String>::close(&mut lines).await;
    client.close().await;
    Ok(())
}

fn read_terminal(mut rl: rustyline::DefaultEditor, prompt: &str, tx: mpsc::Sender<String>) {
    loop {
        match rl.readline(prompt) {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line.as_str());
                if tx.blocking_send(line).is_err() {
                    return;
                }
            }
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) | Err(_) => return,
        }
    }
}

fn read_plain(tx: mpsc::Sender<String>) {
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { return };
        if tx.blocking_send(line).is_err() {
            return;
        }
    }
}

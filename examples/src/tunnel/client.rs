//! The client side: each accepted TCP connection becomes one stream to the server.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use super::settings::ClientSettings;

/// Listens on `localaddr` and forwards every connection until the process ends.
pub async fn run(s: ClientSettings) -> anyhow::Result<()> {
    let local = crate::addr::resolve(&s.localaddr)?;
    let listener = TcpListener::bind(local)
        .await
        .with_context(|| format!("cannot listen on TCP {local}"))?;
    tracing::info!("listening on: {}", listener.local_addr()?);
    tracing::info!("remote address: {}", s.remoteaddr);
    // As kcptun, nothing is sent until the first TCP connection arrives, and that connection's stream goes out
    // at once (no probe round trip first: `connect_lazy`); the client is then kept (it replaces dead
    // sessions by itself) and rebuilt only if opening a stream failed.
    let client: Arc<Mutex<Option<stack::Client>>> = Arc::new(Mutex::new(None));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let s = s.clone();
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = forward(tcp, &s, &client).await {
                tracing::warn!("in: {peer}: {e:#}");
            }
        });
    }
}

async fn get_client(
    s: &ClientSettings,
    slot: &Mutex<Option<stack::Client>>,
) -> anyhow::Result<stack::Client> {
    let mut slot = slot.lock().await;
    if let Some(c) = slot.as_ref() {
        return Ok(c.clone());
    }
    let remote = crate::addr::resolve(&s.remoteaddr)?;
    let c = stack::connect_lazy(remote, &s.config)
        .await
        .with_context(|| format!("cannot open a client to {remote}"))?;
    // Nothing has been exchanged yet (no probe), so this is not "connected".
    tracing::info!("client to {remote} ready ({} session(s))", s.config.conn);
    Ok(slot.insert(c).clone())
}

async fn forward(
    mut tcp: TcpStream,
    s: &ClientSettings,
    slot: &Mutex<Option<stack::Client>>,
) -> anyhow::Result<()> {
    let peer = tcp.peer_addr()?;
    let client = get_client(s, slot).await?;
    let mut stream = match client.open_stream().await {
        Ok(st) => st,
        Err(e) => {
            // The client retries a fresh session itself; if that failed too, start over next time.
            *slot.lock().await = None;
            return Err(e).context("cannot open a stream");
        }
    };
    let id = stream.id();
    if !s.program.quiet {
        tracing::info!(
            "stream opened in: {peer} out: {} ({id})",
            client.remote_addr()
        );
    }
    let r = tokio::io::copy_bidirectional(&mut tcp, &mut stream).await;
    if !s.program.quiet {
        match r {
            Ok((up, down)) => tracing::info!(
                "stream closed in: {peer} out: {} ({id}) sent {up} received {down}",
                client.remote_addr()
            ),
            Err(e) => tracing::info!(
                "stream closed in: {peer} out: {} ({id}): {e}",
                client.remote_addr()
            ),
        }
    }
    Ok(())
}

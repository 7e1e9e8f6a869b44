//! The server side: every stream from a client is connected to the one target.

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::settings::ServerSettings;

/// Where accepted streams go: kcptun's `--target` is `host:port` for TCP, anything else a Unix socket path.
#[derive(Debug, Clone)]
enum Target {
    Tcp(String),
    Unix(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "{a} (TCP)"),
            Target::Unix(p) => write!(f, "{p} (Unix socket)"),
        }
    }
}

impl Target {
    fn parse(t: &str) -> Target {
        let looks_tcp = t
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.parse::<u16>().is_ok());
        if looks_tcp {
            Target::Tcp(t.to_string())
        } else {
            Target::Unix(t.to_string())
        }
    }
}

/// Listens on `listen` and forwards every stream until the process ends.
pub async fn run(s: ServerSettings) -> anyhow::Result<()> {
    let listen = crate::addr::resolve(&s.listen)?;
    let listener = stack::KcpSmuxListener::bind(listen, s.config.clone())
        .await
        .with_context(|| format!("cannot listen on UDP {listen}"))?;
    let target = Target::parse(&s.target);
    tracing::info!("listening on: {}", listener.local_addr());
    tracing::info!("target: {target}");
    loop {
        let (stream, peer) = listener.accept().await.context("listener stopped")?;
        let target = target.clone();
        let quiet = s.program.quiet;
        tokio::spawn(async move {
            let id = stream.id();
            let r = match &target {
                Target::Tcp(addr) => match TcpStream::connect(addr).await {
                    Ok(tcp) => {
                        let _ = tcp.set_nodelay(true);
                        pipe(stream, tcp, peer, id, addr, quiet).await
                    }
                    Err(e) => Err(e),
                },
                #[cfg(unix)]
                Target::Unix(path) => match tokio::net::UnixStream::connect(path).await {
                    Ok(u) => pipe(stream, u, peer, id, path, quiet).await,
                    Err(e) => Err(e),
                },
                #[cfg(not(unix))]
                Target::Unix(path) => Err(std::io::Error::other(format!("{path}: not host:port"))),
            };
            if let Err(e) = r {
                // Dropping the stream sends FIN: the client sees its connection close, as with kcptun.
                tracing::warn!("stream {id} from {peer}: cannot connect to {target}: {e}");
            }
        });
    }
}

async fn pipe<T: AsyncRead + AsyncWrite + Unpin>(
    mut stream: stack::Stream,
    mut target: T,
    peer: std::net::SocketAddr,
    id: u32,
    to: &str,
    quiet: bool,
) -> std::io::Result<()> {
    if !quiet {
        tracing::info!("stream opened in: {peer} ({id}) out: {to}");
    }
    let r = tokio::io::copy_bidirectional(&mut stream, &mut target).await;
    if !quiet {
        match r {
            Ok((down, up)) => {
                tracing::info!(
                    "stream closed in: {peer} ({id}) out: {to} received {down} sent {up}"
                )
            }
            Err(e) => tracing::info!("stream closed in: {peer} ({id}) out: {to}: {e}"),
        }
    }
    Ok(())
}

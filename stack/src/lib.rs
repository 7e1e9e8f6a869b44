//! KCP + smux composed as kcptun composes them, so that either end can be kcptun.
//!
//! - [`connect`] gives a [`Client`] that opens [`Stream`]s over `conn` KCP sessions (kcptun's `--conn`),
//!   replacing dead, expired or long-idle sessions on the next open by itself.
//! - [`KcpSmuxListener`] accepts streams from many clients on one UDP socket.
//! - [`Config`] has kcptun's knobs with kcptun's defaults and reads kcptun's JSON config files
//!   ([`Config::client_from_json`]); validation names the bad field.
//! - Unless `nocomp`, the smux byte stream travels snappy-framed ([`comp::CompStream`]), as kcptun's.
//! - Errors an application can act on are one small enum, [`Error`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), stack::Error> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let mut cfg = stack::Config::default();
//! cfg.key = "secret".into();
//! let listener = stack::KcpSmuxListener::bind("127.0.0.1:0", cfg.clone()).await?;
//! let client = stack::connect(listener.local_addr(), &cfg).await?;
//! let mut a = client.open_stream().await?;
//! a.write_all(b"ping").await?;
//! let (mut b, _peer) = listener.accept().await?;
//! let mut buf = [0u8; 4];
//! b.read_exact(&mut buf).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client;
pub mod comp;
mod config;
mod error;
mod json;
mod listener;
pub mod snappy;
mod stream;

pub use client::{Client, ClientStats, connect, connect_lazy};
pub use config::{Config, Mode};
pub use error::Error;
pub use listener::KcpSmuxListener;
pub use stream::Stream;

/// The README's code blocks, compiled and run as doctests so the front page never shows broken code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

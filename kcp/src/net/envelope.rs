//! The driver's view of the datagram envelope ([`crate::codec::Codec`]): opening datagrams before
//! they are routed (listener-wide), and per-session FEC state for sealing and decoding.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use super::config::Config;
use super::stats::{Snmp, snmp};
use super::udp::TxQueue;
use crate::codec::{Codec, CodecConfig, CodecStats, DropReason};

fn codec_config(cfg: &Config) -> CodecConfig {
    CodecConfig::new(
        cfg.crypt,
        cfg.key,
        cfg.fec_data_shards,
        cfg.fec_parity_shards,
    )
}

fn codec(cfg: &Config) -> io::Result<Codec> {
    Codec::new(&codec_config(cfg))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Result of opening a datagram.
pub(crate) enum Opened<'a> {
    /// Decrypted and checked: the FEC header or KCP segments.
    Plain(&'a [u8]),
    /// Dropped: failed checksum, or too short/long (already counted).
    Dropped,
}

/// Endpoint-wide decryption and checksum check, done before a datagram is routed to a session, so a
/// datagram that fails it never reaches (or creates) one.
#[derive(Debug)]
pub(crate) struct Crypt {
    codec: Codec,
}

impl Crypt {
    pub(crate) fn new(cfg: &Config) -> io::Result<Self> {
        // Without FEC: only the cipher part of this codec is used.
        let cfg = Config {
            fec_data_shards: 0,
            fec_parity_shards: 0,
            ..cfg.clone()
        };
        Ok(Crypt {
            codec: codec(&cfg)?,
        })
    }

    pub(crate) fn open<'a>(&mut self, buf: &'a mut [u8]) -> Opened<'a> {
        match self.codec.open(buf) {
            Ok(p) => Opened::Plain(p),
            Err(DropReason::Checksum) => {
                snmp().in_csum_errors.fetch_add(1, Relaxed);
                Opened::Dropped
            }
            Err(_) => Opened::Dropped,
        }
    }
}

/// Per-session envelope state: nonce source, FEC encoder and decoder.
#[derive(Debug)]
pub(crate) struct Envelope {
    codec: Codec,
    folded: CodecStats,
}

impl Envelope {
    pub(crate) fn new(cfg: &Config) -> io::Result<Self> {
        Ok(Envelope {
            codec: codec(cfg)?,
            folded: CodecStats::default(),
        })
    }

    /// Bytes the KCP core must leave free at the front of each datagram.
    pub(crate) fn header_len(&self) -> usize {
        self.codec.header_len()
    }

    /// Feeds an opened datagram through FEC; `f(kcp_bytes, regular)` gets the datagram's own KCP
    /// segments (if any) and every segment run FEC rebuilt. `f` returns false when KCP rejected it.
    pub(crate) fn input(&mut self, plain: &[u8], now: u32, mut f: impl FnMut(&[u8], bool) -> bool) {
        for p in self.codec.input(plain, now) {
            if !f(p.data, !p.recovered) && p.recovered {
                // kcp-go counts a rejected recovered segment as a KCP input error, not a recovery.
                self.folded.fec_recovered = self.folded.fec_recovered.wrapping_add(1);
            }
        }
    }

    /// Seals one datagram from the core (prefix reserved) and queues it plus any parity it completed.
    pub(crate) fn seal(&mut self, tx: &mut TxQueue, dest: SocketAddr, dgram: &mut [u8], now: u32) {
        match self.codec.encode(dgram, now) {
            Ok(parity) => {
                // Data first, then parity, as kcp-go queues them.
                tx.push_copy(dest, dgram);
                for p in parity {
                    tx.push_copy(dest, p);
                }
            }
            Err(_) => {
                // The core never emits datagrams outside the envelope's limits; drop if it ever did.
            }
        }
    }

    /// Adds what happened since the last call to the process-wide counters; returns FEC recoveries.
    pub(crate) fn fold_snmp(&mut self) -> u64 {
        let now = *self.codec.stats();
        let s = snmp();
        let d = |a: u64, b: u64| a.wrapping_sub(b);
        Snmp::add(
            &s.fec_parity_shards,
            d(now.fec_parity_shards, self.folded.fec_parity_shards),
        );
        let recovered = d(now.fec_recovered, self.folded.fec_recovered);
        Snmp::add(&s.fec_recovered, recovered);
        Snmp::add(&s.fec_errs, d(now.fec_errs, self.folded.fec_errs));
        Snmp::add(
            &s.fec_short_shards,
            d(now.fec_short_shards, self.folded.fec_short_shards),
        );
        self.folded = now;
        recovered
    }
}

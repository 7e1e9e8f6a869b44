//! The driver's view of the datagram envelope ([`crate::codec::Codec`]): opening datagrams before
//! they are routed (listener-wide), and per-session FEC state for sealing and decoding.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use super::config::Config;
use super::stats::{Snmp, snmp};
use super::udp::TxQueue;
use crate::codec::{CFB_LANES, Codec, CodecConfig, CodecStats, DropReason};

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
    /// `Config::adaptive_parity`.
    adaptive_parity: bool,
    folded: CodecStats,
    /// Flushes sealed (each encrypted with one call).
    batches: u64,
}

/// Frames the datagrams of one flush into the send queue; see [`Envelope::seal_flush`].
pub(crate) struct Sealer<'a> {
    codec: &'a mut Codec,
    tx: &'a mut TxQueue,
    dest: SocketAddr,
    now: u32,
    /// Index in `tx` of the first datagram framed but not yet encrypted.
    pending: usize,
    /// Encryption calls made.
    batches: u64,
}

impl Sealer<'_> {
    /// Frames one datagram from the core (prefix reserved) and queues it plus any parity it completed;
    /// they are encrypted with the next run.
    pub(crate) fn seal(&mut self, dgram: &mut [u8]) {
        match self.codec.encode_framed(dgram, self.now) {
            Ok(parity) => {
                // Data first, then parity, as kcp-go queues them.
                self.tx.push_copy(self.dest, &dgram[parity.data_start()..]);
                for p in parity {
                    self.tx.push_copy(self.dest, p);
                }
            }
            Err(_) => {
                // The core never emits datagrams outside the envelope's limits; drop if it ever did.
            }
        }
        if self.tx.len() - self.pending >= CFB_LANES {
            self.encrypt_pending();
        }
    }

    /// Encrypts the queued datagrams not encrypted yet, as interleaved chains.
    fn encrypt_pending(&mut self) {
        if self.tx.len() > self.pending {
            self.codec
                .encrypt_framed(self.tx.datagrams_mut(self.pending));
            self.pending = self.tx.len();
            self.batches += 1;
        }
    }
}

impl Envelope {
    pub(crate) fn new(cfg: &Config) -> io::Result<Self> {
        Ok(Envelope {
            codec: codec(cfg)?,
            adaptive_parity: cfg.adaptive_parity,
            folded: CodecStats::default(),
            batches: 0,
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

    /// Seals every datagram `emit` produces (one flush of the core: each datagram with the prefix reserved)
    /// and queues it, plus any parity it completed, on `tx`. The datagrams are framed (FEC, nonce, CRC) one by
    /// one as they come and copied into `tx`, where they are encrypted together, [`CFB_LANES`] at a time
    /// (while they are still in L1) and the rest when `emit` returns, so the CFB chains of the flush
    /// interleave; the bytes are those of sealing each datagram alone.
    pub(crate) fn seal_flush<R>(
        &mut self,
        tx: &mut TxQueue,
        dest: SocketAddr,
        now: u32,
        emit: impl FnOnce(&mut Sealer<'_>) -> R,
    ) -> R {
        let mut sealer = Sealer {
            codec: &mut self.codec,
            pending: tx.len(),
            tx,
            dest,
            now,
            batches: 0,
        };
        let r = emit(&mut sealer);
        sealer.encrypt_pending();
        self.batches = self.batches.wrapping_add(sealer.batches);
        r
    }

    /// FEC groups sent without parity so far.
    pub(crate) fn groups_without_parity(&self) -> u64 {
        self.codec.stats().fec_parity_skipped
    }

    /// Datagrams sent without FEC framing so far (parity budget 0 outside a group).
    pub(crate) fn datagrams_without_fec(&self) -> u64 {
        self.codec.stats().fec_bypassed
    }

    /// With adaptive parity (see `Config::adaptive_parity`), parity only while the sender is not limited by
    /// its pipe; before each flush.
    pub(crate) fn follow_pipe(&mut self, pipe_limited: bool) {
        if self.adaptive_parity {
            self.codec
                .set_parity_budget(if pipe_limited { 0 } else { usize::MAX });
        }
    }

    /// Encryption calls (runs of at most [`CFB_LANES`] datagrams) made by [`Envelope::seal_flush`] so far.
    #[cfg(test)]
    pub(crate) fn batches(&self) -> u64 {
        self.batches
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{CryptKind, NonceSource};

    const NONCE_KEY: [u8; 16] = [9; 16];

    /// A flush of `lens.len()` datagrams (KCP bytes of those lengths after the prefix), as the core emits them.
    fn flush(h: usize, lens: &[usize], mut out: impl FnMut(&mut [u8])) {
        for (i, &n) in lens.iter().enumerate() {
            let mut d = vec![0u8; h + n];
            for (j, b) in d[h..].iter_mut().enumerate() {
                *b = (i * 31 + j * 7) as u8;
            }
            out(&mut d);
        }
    }

    /// One flush through `seal_flush` gives the bytes of sealing every datagram alone with `Codec::encode`
    /// (same nonces), encrypted in runs of `CFB_LANES` queued datagrams and the rest at the flush's end;
    /// datagrams queued before the flush are left alone.
    #[test]
    fn flush_is_sealed_in_runs_with_per_datagram_bytes() {
        let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
        // 23 datagrams: two full FEC groups (parity after the 10th and 20th) and a partial one.
        let lens: Vec<usize> = (0..23).map(|i| [1200, 24, 700, 1322][i % 4]).collect();
        for (crypt, fec) in [
            (CryptKind::Aes256, (10, 3)),
            (CryptKind::Aes256, (0, 0)),
            (CryptKind::Salsa20, (10, 3)),
            (CryptKind::Null, (10, 3)),
        ] {
            let cfg = Config {
                crypt,
                fec_data_shards: fec.0,
                fec_parity_shards: fec.1,
                ..Config::default()
            };
            let mut env = Envelope::new(&cfg).unwrap();
            env.codec
                .set_nonce_source(NonceSource::from_parts(NONCE_KEY, 5));
            let mut reference = codec(&cfg).unwrap();
            reference.set_nonce_source(NonceSource::from_parts(NONCE_KEY, 5));
            let h = env.header_len();

            let mut want: Vec<Vec<u8>> = vec![b"queued earlier".to_vec()];
            flush(h, &lens, |d| {
                let parity: Vec<Vec<u8>> = reference
                    .encode(d, 7)
                    .unwrap()
                    .map(<[u8]>::to_vec)
                    .collect();
                want.push(d.to_vec());
                want.extend(parity);
            });

            let mut tx = TxQueue::default();
            tx.push_copy(dest, b"queued earlier");
            // Data datagrams (at their queue index) encrypted already / still in the clear when `emit` ends.
            let (mut sealed, mut clear, mut sealed_but_clear, mut clear_and_pending) = (0, 0, 0, 0);
            env.seal_flush(&mut tx, dest, 7, |s| {
                let mut data = Vec::new();
                flush(h, &lens, |d| {
                    data.push((s.tx.len(), d[h..].to_vec()));
                    s.seal(d);
                });
                let queued: Vec<Vec<u8>> = s.tx.datagrams_mut(0).map(|d| d.to_vec()).collect();
                for (at, kcp) in &data {
                    let in_clear = queued[*at][h..] == kcp[..];
                    if *at < s.pending {
                        sealed += 1;
                        sealed_but_clear += usize::from(in_clear);
                    } else {
                        clear += 1;
                        clear_and_pending += usize::from(in_clear);
                    }
                }
            });
            // 29 (or, without FEC, 23) datagrams: one run of 16 encrypted during the flush, the rest after.
            assert_eq!(env.batches(), 2, "{crypt:?}");
            assert!(sealed >= 12 && clear >= 7, "{crypt:?}: {sealed} {clear}");
            assert_eq!(clear_and_pending, clear, "{crypt:?}: the last run waits");
            if crypt != CryptKind::Null {
                assert_eq!(sealed_but_clear, 0, "{crypt:?}: full runs are encrypted");
            }
            let got: Vec<Vec<u8>> = tx.datagrams_mut(0).map(|d| d.to_vec()).collect();
            let parity = if fec.0 > 0 { 2 * fec.1 } else { 0 };
            assert_eq!(got.len(), 1 + 23 + parity, "{crypt:?}");
            assert!(
                got == want,
                "{crypt:?}: batch bytes differ from per-datagram sealing"
            );

            // And a receiver reads the KCP bytes back.
            let mut rx = codec(&cfg).unwrap();
            let mut kcp = 0;
            for mut d in got.into_iter().skip(1) {
                kcp += rx.decode(&mut d, 7).filter(|p| !p.recovered).count();
            }
            assert_eq!(kcp, 23, "{crypt:?}");
        }
    }
}

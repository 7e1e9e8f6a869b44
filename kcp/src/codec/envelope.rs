//! [`Codec`]: one session's datagram envelope, the layer between KCP and the UDP socket.

use super::cfb::LANES;
use super::crypt::{BlockCrypt, CryptKind};
use super::fec::{
    FEC_DATA_HEADER_LEN, FEC_HEADER_LEN, FecDecoder, FecEncoder, FecError, FecLimits, MTU_LIMIT,
};
use super::fec::{TYPE_DATA, TYPE_PARITY};
use super::kdf::derive_key;
use super::nonce::NonceSource;

/// Bytes of the random nonce at the front of every encrypted datagram.
pub const NONCE_LEN: usize = 16;
/// Nonce + CRC32: the crypto header (absent only with [`CryptKind::Null`]).
pub const CRYPT_HEADER_LEN: usize = 20;
/// Length of a KCP segment header; shorter payloads are dropped as kcp-go does.
pub const KCP_OVERHEAD: usize = 24;

/// What a session's envelope is made of: cipher, key, FEC shard counts and the FEC bounds.
#[derive(Clone, PartialEq, Eq)]
pub struct CodecConfig {
    /// The cipher (kcptun `--crypt`).
    pub crypt: CryptKind,
    /// The 32-byte kcptun key ([`derive_key`] of `--key`); ciphers with shorter keys use its leading bytes.
    pub key: [u8; 32],
    /// FEC data shards (kcptun `--datashard`, default 10). FEC is on iff both counts are above 0.
    pub data_shards: usize,
    /// FEC parity shards (kcptun `--parityshard`, default 3).
    pub parity_shards: usize,
    /// Decoder bounds, expiry and the encoder's optional latency rule.
    pub fec_limits: FecLimits,
}

impl std::fmt::Debug for CodecConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("CodecConfig")
            .field("crypt", &self.crypt)
            .field("data_shards", &self.data_shards)
            .field("parity_shards", &self.parity_shards)
            .field("fec_limits", &self.fec_limits)
            .finish_non_exhaustive()
    }
}

impl CodecConfig {
    /// A configuration from a cipher, the 32-byte key and the shard counts, with kcp-go's FEC bounds.
    pub fn new(
        crypt: CryptKind,
        key: [u8; 32],
        data_shards: usize,
        parity_shards: usize,
    ) -> CodecConfig {
        CodecConfig {
            crypt,
            key,
            data_shards,
            parity_shards,
            fec_limits: FecLimits::default(),
        }
    }

    /// A configuration from kcptun's flags: `--crypt` name, `--key` password, `--datashard`, `--parityshard`.
    ///
    /// ```
    /// use kcp::codec::{Codec, CodecConfig, CryptKind};
    /// let cfg = CodecConfig::kcptun("aes", "it's a secrect", 10, 3);
    /// assert_eq!(cfg.crypt, CryptKind::Aes256);
    /// assert_eq!(Codec::new(&cfg).unwrap().header_len(), 28);
    /// ```
    pub fn kcptun(
        crypt: &str,
        password: &str,
        data_shards: usize,
        parity_shards: usize,
    ) -> CodecConfig {
        CodecConfig::new(
            CryptKind::from_kcptun_name(crypt),
            derive_key(password),
            data_shards,
            parity_shards,
        )
    }

    /// Whether this configuration sends FEC (both shard counts above 0).
    pub fn fec_enabled(&self) -> bool {
        self.data_shards > 0 && self.parity_shards > 0
    }
}

/// Counters of one codec, named after kcp-go's SNMP counters where one applies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CodecStats {
    /// `OutPkts`: datagrams handed out by [`Codec::encode`] (data and parity).
    pub out_pkts: u64,
    /// `OutBytes`: their bytes.
    pub out_bytes: u64,
    /// `InPkts`: datagrams that passed the crypto layer and were long enough for KCP.
    pub in_pkts: u64,
    /// `InBytes`: their bytes after the crypto header.
    pub in_bytes: u64,
    /// `InCsumErrors`: datagrams whose CRC32 did not match after decryption.
    pub in_csum_errors: u64,
    /// `InErrs` (codec part): datagrams longer than 1500 bytes.
    pub in_errs: u64,
    /// Datagrams dropped silently for being too short (under 20 bytes of crypto header, or under 24 bytes
    /// after it), as kcp-go drops them without a counter.
    pub short_drops: u64,
    /// `FECParityShards`: parity packets received.
    pub fec_parity_shards: u64,
    /// `FECRecovered`: rebuilt data shards handed to KCP (KCP may still reject their content).
    pub fec_recovered: u64,
    /// `FECErrs`: rebuilt shards with an invalid size field.
    pub fec_errs: u64,
    /// `FECShortShards`: data packets evicted from the FEC queue unrecovered.
    pub fec_short_shards: u64,
    /// FEC packets ignored because their seqid was already stored.
    pub fec_duplicates: u64,
    /// Times autotune switched the decoder to the peer's shard counts.
    pub fec_retunes: u64,
    /// Groups the encoder sent without parity ([`FecLimits::parity_max_age_ms`], or a parity budget of 0:
    /// [`Codec::set_parity_budget`]).
    pub fec_parity_skipped: u64,
    /// Data datagrams sent without FEC framing although FEC is on: a parity budget of 0 outside a group
    /// ([`Codec::set_parity_budget`]).
    pub fec_bypassed: u64,
}

/// Why [`Codec::new`] refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The FEC shard counts are not usable.
    Fec(FecError),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Fec(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CodecError {}

/// Why [`Codec::encode`] refused a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// Shorter than [`Codec::header_len`].
    TooShort,
    /// Longer than 1500 bytes, the most a kcp-go peer receives.
    TooLong,
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::TooShort => f.write_str("datagram shorter than the envelope header"),
            EncodeError::TooLong => f.write_str("datagram longer than 1500 bytes"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Why [`Codec::open`] dropped a datagram (each reason is also counted in [`CodecStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Too short for the crypto header or for a KCP segment header.
    Short,
    /// Longer than 1500 bytes.
    TooLong,
    /// CRC32 mismatch after decryption.
    Checksum,
}

/// A KCP datagram yielded by [`Codec::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KcpPacket<'a> {
    /// The KCP bytes (one or more segments); feed them to the KCP core's input.
    pub data: &'a [u8],
    /// `false` for the datagram as received (kcp-go `regular = true`), `true` for one rebuilt by FEC
    /// (kcp-go `regular = false`: the KCP core does not take RTT samples or fast-ack hints from it).
    pub recovered: bool,
}

/// The KCP datagrams one received UDP datagram yields: at most one as received, then any rebuilt by FEC.
#[derive(Debug)]
pub struct Decoded<'a> {
    regular: Option<&'a [u8]>,
    recovered: std::slice::Iter<'a, Vec<u8>>,
}

impl<'a> Iterator for Decoded<'a> {
    type Item = KcpPacket<'a>;

    fn next(&mut self) -> Option<KcpPacket<'a>> {
        if let Some(data) = self.regular.take() {
            return Some(KcpPacket {
                data,
                recovered: false,
            });
        }
        // Shards were trimmed to `size | KCP` by the codec; invalid ones to nothing.
        self.recovered
            .by_ref()
            .find(|s| s.len() > 2)
            .map(|s| KcpPacket {
                data: &s[2..],
                recovered: true,
            })
    }
}

/// The parity datagrams an [`Codec::encode`] call produced, ready to send after the data datagram, and
/// where that datagram starts.
#[derive(Debug)]
pub struct Parity<'a> {
    enc: Option<&'a FecEncoder>,
    next: usize,
    data_start: usize,
}

impl Parity<'_> {
    /// Where the data datagram starts in the buffer given to [`Codec::encode`]: send `buf[data_start()..]`.
    /// 0, except while the FEC parity budget is 0 ([`Codec::set_parity_budget`]): a datagram outside an FEC
    /// group then goes without the 8-byte FEC header, which it leaves unused at the front.
    pub fn data_start(&self) -> usize {
        self.data_start
    }
}

impl<'a> Iterator for Parity<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let p = self.enc?.parity_packet(self.next)?;
        self.next += 1;
        Some(p)
    }
}

/// One datagram sealed by [`Codec::encode_batch`], handed to its sink in wire order.
#[derive(Debug, Clone, Copy)]
pub struct Sealed<'a> {
    /// The UDP payload to send.
    pub bytes: &'a [u8],
    /// `Some(i)`: the batch's datagram `i`, sealed in place in the caller's buffer (`bytes` is its tail: all of
    /// it, or all but the unused FEC header, see [`Parity::data_start`]). `None`: a parity datagram, in the codec's
    /// own buffer, valid only during the sink call.
    pub data_index: Option<usize>,
}

/// One session's kcp-go datagram envelope: FEC, CRC32 and cipher on the way out, their checks and FEC recovery
/// on the way in. No I/O and no clock: callers pass `now_ms` (any monotonic millisecond clock, wrapping).
///
/// Sending: the KCP layer writes each datagram after [`Codec::header_len`] free bytes and calls
/// [`Codec::encode`], which fills the headers and encrypts in place; send that buffer, then every datagram of
/// the returned [`Parity`]; or seal a whole flush with [`Codec::encode_batch`] (faster). Receiving: [`Codec::decode`] decrypts and checks in place and yields the KCP
/// datagrams to input. Buffers are reused, so steady state allocates nothing per packet.
///
/// ```
/// use kcp::codec::{Codec, CodecConfig};
/// let cfg = CodecConfig::kcptun("aes", "it's a secrect", 10, 3);
/// let (mut tx, mut rx) = (Codec::new(&cfg).unwrap(), Codec::new(&cfg).unwrap());
/// let h = tx.header_len();
/// let mut wire = vec![0u8; h + 24];
/// wire[h..].copy_from_slice(&[7u8; 24]); // a KCP segment header, say
/// let parity = tx.encode(&mut wire, 0).unwrap();
/// assert_eq!(parity.count(), 0); // the group of 10 is not complete yet
/// let got: Vec<_> = rx.decode(&mut wire, 0).collect();
/// assert_eq!(got.len(), 1);
/// assert_eq!(got[0].data, &[7u8; 24][..]);
/// assert!(!got[0].recovered);
/// ```
pub struct Codec {
    crypt: Option<BlockCrypt>,
    nonce: NonceSource,
    crypt_len: usize,
    fec_enc: Option<FecEncoder>,
    fec_dec: Option<FecDecoder>,
    local_shards: (usize, usize),
    fec_limits: FecLimits,
    stats: CodecStats,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("crypt", &self.crypt.as_ref().map(|c| c.kind()))
            .field("fec_enc", &self.fec_enc)
            .field("fec_dec", &self.fec_dec)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Codec {
    /// Builds the envelope for `config`.
    pub fn new(config: &CodecConfig) -> Result<Codec, CodecError> {
        let crypt = BlockCrypt::new(config.crypt, &config.key);
        let crypt_len = if crypt.is_some() { CRYPT_HEADER_LEN } else { 0 };
        let (fec_enc, fec_dec) = if config.fec_enabled() {
            let (d, p) = (config.data_shards, config.parity_shards);
            (
                Some(
                    FecEncoder::new(d, p, crypt_len, &config.fec_limits)
                        .map_err(CodecError::Fec)?,
                ),
                Some(FecDecoder::new(d, p, &config.fec_limits).map_err(CodecError::Fec)?),
            )
        } else {
            (None, None)
        };
        Ok(Codec {
            crypt,
            nonce: NonceSource::new(),
            crypt_len,
            fec_enc,
            fec_dec,
            local_shards: (config.data_shards, config.parity_shards),
            fec_limits: config.fec_limits.clone(),
            stats: CodecStats::default(),
        })
    }

    /// Bytes the KCP layer must leave free at the front of every datagram it hands to [`Codec::encode`]:
    /// 20 (nonce + CRC) unless the cipher is [`CryptKind::Null`], plus 8 when FEC is on.
    pub fn header_len(&self) -> usize {
        self.crypt_len
            + if self.fec_enc.is_some() {
                FEC_DATA_HEADER_LEN
            } else {
                0
            }
    }

    /// Largest KCP datagram (segments) that fits a UDP payload of `mtu` bytes: `mtu - header_len()`.
    pub fn kcp_mtu(&self, mtu: usize) -> usize {
        mtu.min(MTU_LIMIT).saturating_sub(self.header_len())
    }

    /// Counters so far.
    pub fn stats(&self) -> &CodecStats {
        &self.stats
    }

    /// Parity shards sent per FEC group from now on, at most the configured count (see
    /// [`FecEncoder::set_parity_budget`]); no effect without FEC. The peer needs no change: the unsent
    /// shards' seqids stay reserved. With a budget of 0 an open group is finished without parity and the
    /// datagrams after it go without FEC framing ([`Parity::data_start`]), until the budget returns.
    pub fn set_parity_budget(&mut self, k: usize) {
        if let Some(enc) = self.fec_enc.as_mut() {
            enc.set_parity_budget(k);
        }
    }

    /// Configured FEC parity shards (0 without FEC).
    pub fn parity_shards(&self) -> usize {
        self.fec_enc.as_ref().map_or(0, |_| self.local_shards.1)
    }

    /// Current (data, parity) shard counts of the FEC decoder, if one exists (it follows the peer via
    /// autotune, and is created with 1/1 on the first FEC packet when FEC is off locally, as in kcp-go).
    pub fn decoder_shards(&self) -> Option<(usize, usize)> {
        self.fec_dec.as_ref().map(|d| d.shard_counts())
    }

    /// Fills the headers of one outgoing datagram and encrypts it in place.
    ///
    /// `datagram` is `header_len()` free bytes followed by the KCP bytes; after the call it is the UDP payload
    /// to send. The returned [`Parity`] yields the parity datagrams to send right after it (none unless this
    /// datagram completed an FEC group).
    pub fn encode(&mut self, datagram: &mut [u8], now_ms: u32) -> Result<Parity<'_>, EncodeError> {
        let (made, start) = self.frame_checked(datagram, now_ms)?;
        let datagram = &mut datagram[start..];
        if let Some(c) = &self.crypt {
            match self.fec_enc.as_mut().filter(|_| made > 0) {
                // The group's parity and this datagram as interleaved chains.
                Some(enc) => {
                    c.encrypt_many(std::iter::once(datagram).chain(enc.parity_packets_mut()))
                }
                None => c.encrypt(datagram),
            }
        }
        Ok(Parity {
            enc: self.fec_enc.as_ref(),
            next: 0,
            data_start: start,
        })
    }

    /// [`Codec::encode`] without its last step: FEC framing (parity computed over the plaintext, as kcp-go
    /// does), nonce and CRC32, but no encryption. The data datagram and the returned [`Parity`] datagrams
    /// must then go through [`Codec::encrypt_framed`] before they are sent; a sender copies a whole flush
    /// into its send queue this way and encrypts it there with one call, so the CFB chains of the flush's
    /// datagrams interleave (the bytes on the wire are those of [`Codec::encode`]).
    ///
    /// ```
    /// use kcp::codec::{Codec, CodecConfig};
    /// let cfg = CodecConfig::kcptun("aes", "it's a secrect", 10, 3);
    /// let (mut tx, mut rx) = (Codec::new(&cfg).unwrap(), Codec::new(&cfg).unwrap());
    /// let h = tx.header_len();
    /// let mut queue: Vec<Vec<u8>> = Vec::new(); // a sender's send queue
    /// for i in 0..12u8 {
    ///     let mut d = [vec![0; h], vec![i; 1000]].concat();
    ///     let parity = tx.encode_framed(&mut d, 0).unwrap();
    ///     let parity: Vec<Vec<u8>> = parity.map(<[u8]>::to_vec).collect();
    ///     queue.push(d);
    ///     queue.extend(parity);
    /// }
    /// tx.encrypt_framed(queue.iter_mut().map(|d| &mut d[..]));
    /// assert_eq!(queue.len(), 12 + 3);
    /// let kcp: usize = queue.iter_mut().map(|d| rx.decode(d, 0).count()).sum();
    /// assert_eq!(kcp, 12);
    /// ```
    pub fn encode_framed(
        &mut self,
        datagram: &mut [u8],
        now_ms: u32,
    ) -> Result<Parity<'_>, EncodeError> {
        let (_, start) = self.frame_checked(datagram, now_ms)?;
        Ok(Parity {
            enc: self.fec_enc.as_ref(),
            next: 0,
            data_start: start,
        })
    }

    /// Length checks, then [`frame_data_and_parity`]; returns how many parity datagrams are ready and where
    /// the data datagram starts.
    fn frame_checked(
        &mut self,
        datagram: &mut [u8],
        now_ms: u32,
    ) -> Result<(usize, usize), EncodeError> {
        if datagram.len() < self.header_len() {
            return Err(EncodeError::TooShort);
        }
        if datagram.len() > MTU_LIMIT {
            return Err(EncodeError::TooLong);
        }
        Ok(frame_data_and_parity(
            self.crypt.as_ref(),
            &mut self.nonce,
            self.fec_enc.as_mut(),
            datagram,
            now_ms,
            &mut self.stats,
        ))
    }

    /// Encrypts datagrams framed by [`Codec::encode_framed`] (data and parity, any number of calls' worth,
    /// in any order), each in place as its own CFB chain, the chains interleaved. Nothing to do without a
    /// cipher.
    pub fn encrypt_framed<'a>(&self, datagrams: impl Iterator<Item = &'a mut [u8]>) {
        if let Some(c) = &self.crypt {
            c.encrypt_many(datagrams);
        }
    }

    /// Seals a whole flush of datagrams: the same bytes on the wire as calling [`Codec::encode`] on each in
    /// turn (same framing, FEC groups and parity), but faster, because the CFB chains of different datagrams
    /// are encrypted interleaved (one datagram's CFB is a serial chain bound by AES latency; several chains
    /// keep the AES units busy).
    ///
    /// Each datagram is [`Codec::header_len`] free bytes followed by KCP bytes, as for [`Codec::encode`], and
    /// is sealed in place. `sink` receives every datagram to send, in wire order: each data datagram (with its
    /// index in `datagrams`), and after the datagram completing an FEC group, that group's parity datagrams.
    /// Data datagrams go to the sink once their FEC group (or the batch, or a run of [`super::CFB_LANES`]
    /// datagrams) is sealed, so the sink sees them in
    /// runs. If any datagram has a bad length, nothing is encoded and the error is returned.
    /// Allocation-free.
    ///
    /// ```
    /// use kcp::codec::{Codec, CodecConfig};
    /// let cfg = CodecConfig::kcptun("aes", "it's a secrect", 10, 3);
    /// let (mut tx, mut rx) = (Codec::new(&cfg).unwrap(), Codec::new(&cfg).unwrap());
    /// let h = tx.header_len();
    /// // A flush of 12 datagrams, KCP bytes after `h` free bytes.
    /// let mut flush: Vec<Vec<u8>> = (0..12u8).map(|i| [vec![0; h], vec![i; 1000]].concat()).collect();
    /// let mut wire: Vec<Vec<u8>> = Vec::new(); // a real sender queues these for sendmmsg
    /// tx.encode_batch(&mut flush, 0, |d| wire.push(d.bytes.to_vec())).unwrap();
    /// assert_eq!(wire.len(), 12 + 3); // 12 data, and 3 parity after the 10th
    /// let mut kcp = 0;
    /// for dg in &mut wire {
    ///     kcp += rx.decode(dg, 0).count();
    /// }
    /// assert_eq!(kcp, 12);
    /// ```
    pub fn encode_batch<B: AsMut<[u8]>>(
        &mut self,
        datagrams: &mut [B],
        now_ms: u32,
        mut sink: impl FnMut(Sealed<'_>),
    ) -> Result<(), EncodeError> {
        let h = self.header_len();
        for d in datagrams.iter_mut() {
            let len = d.as_mut().len();
            if len < h {
                return Err(EncodeError::TooShort);
            }
            if len > MTU_LIMIT {
                return Err(EncodeError::TooLong);
            }
        }
        let Codec {
            crypt,
            nonce,
            fec_enc,
            stats,
            ..
        } = self;
        let crypt = crypt.as_ref();
        let n = datagrams.len();
        let mut seg_start = 0;
        // Bit j: datagram `seg_start + j` bypassed FEC and starts past the unused FEC header.
        let mut bypassed: u32 = 0;
        const _: () = assert!(LANES <= 32);
        for i in 0..n {
            let (made, start) = frame_one(
                crypt,
                nonce,
                fec_enc.as_mut(),
                datagrams[i].as_mut(),
                now_ms,
                stats,
            );
            if start > 0 {
                bypassed |= 1 << (i - seg_start);
            }
            // A run ends with its FEC group, the batch, or once it fills the interleaved lanes: encrypting
            // each run right after framing it keeps its datagrams in L1 (a 32-datagram run, 43 KB, does not
            // fit, and costs a third of the throughput).
            if made == 0 && i + 1 < n && i + 1 - seg_start < LANES {
                continue;
            }
            // Seal the run seg_start..=i plus the group's parity as interleaved chains, then hand them out.
            let parity = fec_enc.as_mut().filter(|_| made > 0);
            Self::seal_run(
                crypt,
                &mut datagrams[seg_start..=i],
                seg_start,
                bypassed,
                parity,
                stats,
                &mut sink,
            );
            seg_start = i + 1;
            bypassed = 0;
        }
        Ok(())
    }

    /// Encrypts a run of framed data datagrams (those in `bypassed` past their unused FEC header) and the
    /// parity of the group the run completed, as interleaved chains, and hands them to `sink` in wire order.
    fn seal_run<B: AsMut<[u8]>>(
        crypt: Option<&BlockCrypt>,
        run: &mut [B],
        first_index: usize,
        bypassed: u32,
        mut parity: Option<&mut FecEncoder>,
        stats: &mut CodecStats,
        sink: &mut impl FnMut(Sealed<'_>),
    ) {
        let start = |j: usize| {
            if bypassed & (1 << j) != 0 {
                FEC_DATA_HEADER_LEN
            } else {
                0
            }
        };
        if let Some(c) = crypt {
            let data = run
                .iter_mut()
                .enumerate()
                .map(|(j, d)| &mut d.as_mut()[start(j)..]);
            match parity.as_mut() {
                Some(enc) => c.encrypt_many(data.chain(enc.parity_packets_mut())),
                None => c.encrypt_many(data),
            }
        }
        for (j, d) in run.iter_mut().enumerate() {
            let bytes = &d.as_mut()[start(j)..];
            stats.out_pkts += 1;
            stats.out_bytes += bytes.len() as u64;
            sink(Sealed {
                bytes,
                data_index: Some(first_index + j),
            });
        }
        if let Some(enc) = parity {
            for bytes in (0..).map_while(|k| enc.parity_packet(k)) {
                stats.out_pkts += 1;
                stats.out_bytes += bytes.len() as u64;
                sink(Sealed {
                    bytes,
                    data_index: None,
                });
            }
        }
    }

    /// Replaces the nonce source; with [`NonceSource::from_parts`], two codecs seal identically. Tests only.
    #[doc(hidden)]
    pub fn set_nonce_source(&mut self, nonce: NonceSource) {
        self.nonce = nonce;
    }

    /// Like [`Codec::encode`] but with a given nonce for the data datagram (parity datagrams still get fresh
    /// ones). Only for reproducing known-answer vectors: real traffic needs unpredictable nonces.
    #[doc(hidden)]
    pub fn encode_with_nonce(
        &mut self,
        datagram: &mut [u8],
        now_ms: u32,
        nonce: [u8; 16],
    ) -> Result<usize, EncodeError> {
        if datagram.len() < self.header_len() {
            return Err(EncodeError::TooShort);
        }
        if datagram.len() > MTU_LIMIT {
            return Err(EncodeError::TooLong);
        }
        let parity = match &mut self.fec_enc {
            Some(enc) => enc.encode(datagram, now_ms),
            None => 0,
        };
        if let Some(c) = &self.crypt {
            datagram[..NONCE_LEN].copy_from_slice(&nonce);
            let crc = crc32fast::hash(&datagram[CRYPT_HEADER_LEN..]);
            datagram[NONCE_LEN..CRYPT_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            c.encrypt(datagram);
        }
        Ok(parity)
    }

    /// The crypto stage of receiving alone: decrypts `datagram` in place, checks its CRC32 and length, and
    /// returns the bytes after the crypto header (at least 24). A listener uses this to find the session
    /// before calling that session's [`Codec::input`].
    pub fn open<'a>(&mut self, datagram: &'a mut [u8]) -> Result<&'a mut [u8], DropReason> {
        if datagram.len() > MTU_LIMIT {
            self.stats.in_errs += 1;
            return Err(DropReason::TooLong);
        }
        let plain = match &self.crypt {
            Some(c) => {
                if datagram.len() < CRYPT_HEADER_LEN {
                    self.stats.short_drops += 1;
                    return Err(DropReason::Short);
                }
                c.decrypt(datagram);
                let (head, body) = datagram.split_at_mut(CRYPT_HEADER_LEN);
                let want = u32::from_le_bytes([head[16], head[17], head[18], head[19]]);
                if crc32fast::hash(body) != want {
                    self.stats.in_csum_errors += 1;
                    return Err(DropReason::Checksum);
                }
                body
            }
            None => datagram,
        };
        if plain.len() < KCP_OVERHEAD {
            self.stats.short_drops += 1;
            return Err(DropReason::Short);
        }
        Ok(plain)
    }

    /// The FEC stage of receiving alone, on bytes returned by [`Codec::open`] (of this or another codec with
    /// the same cipher): yields the KCP datagram as received (if it is one) and any rebuilt by FEC.
    pub fn input<'a>(&'a mut self, plain: &'a [u8], now_ms: u32) -> Decoded<'a> {
        self.stats.in_pkts += 1;
        self.stats.in_bytes += plain.len() as u64;
        let empty = Decoded {
            regular: None,
            recovered: [].iter(),
        };
        if plain.len() < KCP_OVERHEAD {
            return empty;
        }
        let flag = u16::from_le_bytes([plain[4], plain[5]]);
        if flag != TYPE_DATA && flag != TYPE_PARITY {
            return Decoded {
                regular: Some(plain),
                recovered: [].iter(),
            };
        }
        if plain.len() > MTU_LIMIT {
            return empty;
        }
        if flag == TYPE_PARITY {
            self.stats.fec_parity_shards += 1;
        }
        if self.fec_dec.is_none() {
            // kcp-go creates a 1/1 decoder on the first FEC packet and lets autotune correct it.
            self.fec_dec = Some(FecDecoder::new_untuned(&self.fec_limits));
        }
        let Some(dec) = self.fec_dec.as_mut() else {
            return empty;
        };
        let ev = dec.decode(plain, now_ms);
        self.stats.fec_short_shards += ev.short_shards;
        self.stats.fec_duplicates += u64::from(ev.duplicate);
        self.stats.fec_retunes += u64::from(ev.retuned);
        for shard in dec.recovered_mut() {
            let size = if shard.len() >= 2 {
                usize::from(u16::from_le_bytes([shard[0], shard[1]]))
            } else {
                0
            };
            if (2..=shard.len()).contains(&size) {
                shard.truncate(size);
                if size > 2 {
                    self.stats.fec_recovered += 1;
                }
            } else {
                self.stats.fec_errs += 1;
                shard.clear();
            }
        }
        let regular = (flag == TYPE_DATA).then(|| &plain[FEC_DATA_HEADER_LEN..]);
        Decoded {
            regular,
            recovered: dec.recovered().iter(),
        }
    }

    /// Receives one UDP datagram: [`Codec::open`] then [`Codec::input`]. Decrypts in place; yields nothing if
    /// the datagram is dropped (see [`CodecStats`]).
    pub fn decode<'a>(&'a mut self, datagram: &'a mut [u8], now_ms: u32) -> Decoded<'a> {
        match self.open(datagram) {
            Ok(plain) => self.input(plain, now_ms),
            Err(_) => Decoded {
                regular: None,
                recovered: [].iter(),
            },
        }
    }

    /// FEC packets the decoder holds now, and the most it will hold with its current shard counts
    /// ([`FecLimits::rx_multiple`] times data + parity). `(0, 0)` before any FEC packet arrived with FEC off.
    pub fn fec_queue(&self) -> (usize, usize) {
        self.fec_dec
            .as_ref()
            .map_or((0, 0), |d| (d.stored(), d.rx_limit()))
    }

    /// The local shard counts from the configuration.
    pub fn local_shards(&self) -> (usize, usize) {
        self.local_shards
    }
}

/// kcp-go's session demultiplexing key: `(conv, sn)` of the first KCP segment in bytes returned by
/// [`Codec::open`], or `None` when it cannot be known (a parity packet, or an FEC data packet too short).
///
/// ```
/// let mut seg = [0u8; 24];
/// seg[..4].copy_from_slice(&7u32.to_le_bytes());
/// assert_eq!(kcp::codec::peek_conv_sn(&seg), Some((7, 0)));
/// ```
pub fn peek_conv_sn(plain: &[u8]) -> Option<(u32, u32)> {
    let at = |b: &[u8], i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let flag = u16::from_le_bytes([*plain.get(4)?, *plain.get(5)?]);
    match flag {
        TYPE_DATA if plain.len() >= FEC_DATA_HEADER_LEN + KCP_OVERHEAD => Some((
            at(plain, FEC_DATA_HEADER_LEN)?,
            at(plain, FEC_DATA_HEADER_LEN + 12)?,
        )),
        TYPE_DATA | TYPE_PARITY => None,
        _ if plain.len() >= KCP_OVERHEAD => Some((at(plain, 0)?, at(plain, 12)?)),
        _ => None,
    }
}

/// FEC-frames `datagram` (or takes it out of FEC: [`FecEncoder::bypass_next`]) and frames (nonce, CRC32)
/// it and any parity datagrams its group completed (in the encoder's own buffers: Reed-Solomon rewrites them
/// completely for every group, so sealing them in place is safe); returns how many parity datagrams there
/// are, and where the data datagram starts (past the unused FEC header when bypassed). Parity nonces are
/// drawn first, then the data datagram's (nonces are random, so the peer does not care). Encryption and
/// the out counters are left to the caller.
fn frame_one(
    crypt: Option<&BlockCrypt>,
    nonce: &mut NonceSource,
    fec: Option<&mut FecEncoder>,
    datagram: &mut [u8],
    now_ms: u32,
    stats: &mut CodecStats,
) -> (usize, usize) {
    let Some(enc) = fec else {
        frame(crypt, nonce, datagram);
        return (0, 0);
    };
    if enc.bypass_next() {
        stats.fec_bypassed += 1;
        frame(crypt, nonce, &mut datagram[FEC_DATA_HEADER_LEN..]);
        return (0, FEC_DATA_HEADER_LEN);
    }
    let made = enc.encode(datagram, now_ms);
    stats.fec_parity_skipped = enc.skipped_groups();
    for p in enc.parity_packets_mut() {
        frame(crypt, nonce, p);
    }
    frame(crypt, nonce, datagram);
    (made, 0)
}

/// [`frame_one`], counting the datagrams it leaves ready to send.
fn frame_data_and_parity(
    crypt: Option<&BlockCrypt>,
    nonce: &mut NonceSource,
    mut fec: Option<&mut FecEncoder>,
    datagram: &mut [u8],
    now_ms: u32,
    stats: &mut CodecStats,
) -> (usize, usize) {
    let (made, start) = frame_one(crypt, nonce, fec.as_deref_mut(), datagram, now_ms, stats);
    if let Some(enc) = fec {
        for p in (0..made).filter_map(|k| enc.parity_packet(k)) {
            stats.out_pkts += 1;
            stats.out_bytes += p.len() as u64;
        }
    }
    stats.out_pkts += 1;
    stats.out_bytes += (datagram.len() - start) as u64;
    (made, start)
}

/// Nonce and CRC32 of bytes 20.. (nothing without a cipher); encryption is left to the caller.
fn frame(crypt: Option<&BlockCrypt>, nonce: &mut NonceSource, datagram: &mut [u8]) {
    if crypt.is_none() {
        return;
    }
    let mut n = [0u8; NONCE_LEN];
    nonce.fill(&mut n);
    datagram[..NONCE_LEN].copy_from_slice(&n);
    let crc = crc32fast::hash(&datagram[CRYPT_HEADER_LEN..]);
    datagram[NONCE_LEN..CRYPT_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

const _: () = assert!(FEC_HEADER_LEN + 2 == FEC_DATA_HEADER_LEN);

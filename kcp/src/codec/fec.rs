//! kcp-go's FEC framing and Reed-Solomon coding (`fec.go`), without I/O.
//!
//! Packet layout after the crypto header: `seqid u32 | flag u16 (0xF1 data, 0xF2 parity) | shard`, where a
//! data shard is `size u16 | KCP bytes` and a parity shard is the parity of the group's zero-padded data
//! shards. See `shared/spec/kcp-go-packet.md` section 5.

use reed_solomon_erasure::galois_8::ReedSolomon;

use super::autotune::AutoTune;

/// Flag of an FEC data packet.
pub const TYPE_DATA: u16 = 0x00F1;
/// Flag of an FEC parity packet.
pub const TYPE_PARITY: u16 = 0x00F2;
/// `seqid | flag`.
pub const FEC_HEADER_LEN: usize = 6;
/// `seqid | flag | size`: what the KCP layer reserves for FEC.
pub const FEC_DATA_HEADER_LEN: usize = 8;
/// Largest datagram kcp-go sends or receives (`mtuLimit`).
pub const MTU_LIMIT: usize = 1500;

/// Bounds and timing of the FEC encoder and decoder. The defaults are kcp-go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FecLimits {
    /// The decoder keeps at most `rx_multiple * (data + parity)` packets (kcp-go `rxFECMulti` = 3); beyond
    /// that the oldest is evicted (a data packet evicted counts `FECShortShards`). Memory per session is
    /// about this many times 1500 bytes.
    pub rx_multiple: usize,
    /// Stored packets older than this (ms) are dropped (kcp-go `fecExpire` = 60000).
    pub expire_ms: u32,
    /// Encoder latency rule, off by default (kcp-go v5.6.1 always sends parity): when set, and the data packet
    /// completing a group comes more than this many ms after the group's previous data packet, the group's
    /// parity is skipped (its seqids are still consumed, so group alignment is kept). Parity that arrives
    /// that late would only repair what the ARQ has already retransmitted.
    pub parity_max_age_ms: Option<u32>,
    /// Autotune follows a peer's shard counts only while `data + parity` stays at or below this
    /// (kcp-go: 256, the most GF(2^8) allows). Lower it to bound a hostile peer's cost per session.
    pub autotune_max_shards: usize,
}

impl Default for FecLimits {
    fn default() -> Self {
        FecLimits {
            rx_multiple: 3,
            expire_ms: 60_000,
            parity_max_age_ms: None,
            autotune_max_shards: 256,
        }
    }
}

/// Why an FEC configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FecError {
    /// Reed-Solomon needs `data >= 1`, `parity >= 1`, `data + parity <= 256`.
    BadShardCounts {
        /// Requested data shards.
        data: usize,
        /// Requested parity shards.
        parity: usize,
    },
}

impl std::fmt::Display for FecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FecError::BadShardCounts { data, parity } => {
                write!(
                    f,
                    "invalid FEC shard counts {data}/{parity}: need 1..=255 each, sum <= 256"
                )
            }
        }
    }
}

impl std::error::Error for FecError {}

/// A Reed-Solomon code built on first use: each holds about 9 KB (matrix and decode cache), which an idle
/// session, or one whose peer never loses a datagram, need not pay for.
struct LazyRs {
    data: usize,
    parity: usize,
    rs: Option<ReedSolomon>,
}

impl LazyRs {
    fn new(data: usize, parity: usize) -> Result<LazyRs, FecError> {
        // Exactly the counts `ReedSolomon::new` accepts.
        if data == 0 || parity == 0 || data + parity > 256 {
            return Err(FecError::BadShardCounts { data, parity });
        }
        Ok(LazyRs {
            data,
            parity,
            rs: None,
        })
    }

    fn get(&mut self) -> Option<&ReedSolomon> {
        if self.rs.is_none() {
            self.rs = ReedSolomon::new(self.data, self.parity).ok();
        }
        self.rs.as_ref()
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Wrap-aware `a - b` on sequence numbers (kcp-go `_itimediff`).
fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// A buffer seen from an offset, so Reed-Solomon writes parity straight into the datagram after its header.
struct Tail {
    buf: Vec<u8>,
    start: usize,
}

impl AsRef<[u8]> for Tail {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl AsMut<[u8]> for Tail {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }
}

/// The sending half: numbers data packets and produces the parity packets of each full group.
pub struct FecEncoder {
    data_shards: usize,
    parity_shards: usize,
    paws: u32,
    next: u32,
    header_offset: usize,
    /// Copies of the current group's data shards (`size | KCP`), zero-padded when the group completes.
    shards: Vec<Vec<u8>>,
    count: usize,
    max_shard: usize,
    /// Parity datagrams: `header_offset` free bytes, `seqid | flag`, parity shard.
    parity: Vec<Tail>,
    /// Length of the parity datagrams ready in `parity` (0: none).
    parity_len: usize,
    /// How many of them are to be sent (the first `parity_ready`).
    parity_ready: usize,
    /// Parity shards sent per group from now on ([`FecEncoder::set_parity_budget`]).
    parity_budget: usize,
    last_data_ms: Option<u32>,
    parity_max_age_ms: Option<u32>,
    skipped_groups: u64,
    rs: LazyRs,
}

impl std::fmt::Debug for FecEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FecEncoder")
            .field("data_shards", &self.data_shards)
            .field("parity_shards", &self.parity_shards)
            .field("next", &self.next)
            .finish()
    }
}

impl FecEncoder {
    /// An encoder for `data`/`parity` shards whose FEC header starts `header_offset` bytes into each
    /// datagram (20 with a cipher, 0 without).
    pub fn new(
        data: usize,
        parity: usize,
        header_offset: usize,
        limits: &FecLimits,
    ) -> Result<Self, FecError> {
        let rs = LazyRs::new(data, parity)?;
        let n = (data + parity) as u32;
        Ok(FecEncoder {
            data_shards: data,
            parity_shards: parity,
            paws: u32::MAX / n * n,
            next: 0,
            header_offset,
            // Buffers get their memory on first use: an idle session costs no 13 x 1500 bytes.
            shards: (0..data).map(|_| Vec::new()).collect(),
            count: 0,
            max_shard: 0,
            parity: (0..parity)
                .map(|_| Tail {
                    buf: Vec::new(),
                    start: header_offset + FEC_HEADER_LEN,
                })
                .collect(),
            parity_len: 0,
            parity_ready: 0,
            parity_budget: parity,
            last_data_ms: None,
            parity_max_age_ms: limits.parity_max_age_ms,
            skipped_groups: 0,
            rs,
        })
    }

    /// Frames one data packet in place: `packet[header_offset..]` gets `seqid | 0xF1 | size`; the KCP bytes
    /// start at `header_offset + 8`. Returns how many parity packets became ready (0, or the parity budget
    /// when this packet completed a group); read them with [`FecEncoder::parity_packets_mut`].
    ///
    /// # Panics
    ///
    /// If `packet` is shorter than `header_offset + 8` or longer than [`MTU_LIMIT`] bytes ([`Codec::encode`]
    /// checks both and returns an error instead).
    ///
    /// [`Codec::encode`]: super::Codec::encode
    pub fn encode(&mut self, packet: &mut [u8], now_ms: u32) -> usize {
        let h = self.header_offset;
        assert!(
            packet.len() >= h + FEC_DATA_HEADER_LEN && packet.len() <= MTU_LIMIT,
            "FEC data packet of {} bytes outside {}..={MTU_LIMIT}",
            packet.len(),
            h + FEC_DATA_HEADER_LEN
        );
        self.parity_len = 0;
        self.parity_ready = 0;
        packet[h..h + 4].copy_from_slice(&self.next.to_le_bytes());
        packet[h + 4..h + 6].copy_from_slice(&TYPE_DATA.to_le_bytes());
        self.next = self.next.wrapping_add(1);
        let shard_len = packet.len() - h - FEC_HEADER_LEN;
        packet[h + 6..h + 8].copy_from_slice(&(shard_len as u16).to_le_bytes());

        let shard = &mut self.shards[self.count];
        shard.clear();
        // At full size the first time, so a shard never grows (no reallocation) afterwards.
        shard.reserve(MTU_LIMIT);
        shard.extend_from_slice(&packet[h + FEC_HEADER_LEN..]);
        self.count += 1;
        self.max_shard = self.max_shard.max(shard_len);

        let stale = match (self.parity_max_age_ms, self.last_data_ms) {
            (Some(age), Some(last)) => now_ms.wrapping_sub(last) > age,
            _ => false,
        };
        self.last_data_ms = Some(now_ms);
        if self.count < self.data_shards {
            return 0;
        }
        let max = self.max_shard;
        self.count = 0;
        self.max_shard = 0;
        if stale || self.parity_budget == 0 {
            // Keep the parity seqids reserved so the next group starts on its boundary.
            for _ in 0..self.parity_shards {
                self.next = self.next.wrapping_add(1) % self.paws;
            }
            self.skipped_groups += 1;
            return 0;
        }
        for s in &mut self.shards {
            s.resize(max, 0);
        }
        let start = h + FEC_HEADER_LEN;
        for p in &mut self.parity {
            p.buf.reserve(MTU_LIMIT.saturating_sub(p.buf.len()));
            p.buf.resize(start + max, 0);
        }
        let Some(rs) = self.rs.get() else {
            return 0; // the counts were checked in `new`, so this cannot happen
        };
        if rs.encode_sep(&self.shards, &mut self.parity).is_err() {
            return 0; // all shards are `max` long, so this cannot happen
        }
        for p in &mut self.parity {
            p.buf[h..h + 4].copy_from_slice(&self.next.to_le_bytes());
            p.buf[h + 4..h + 6].copy_from_slice(&TYPE_PARITY.to_le_bytes());
            self.next = self.next.wrapping_add(1) % self.paws;
        }
        self.parity_len = start + max;
        self.parity_ready = self.parity_budget;
        self.parity_ready
    }

    /// Takes the next data packet out of FEC when the parity budget is 0 and no group is open (the packet
    /// would start a group that gets no parity): returns `true`, and the caller sends plain KCP bytes, 8
    /// bytes shorter, without calling [`FecEncoder::encode`]. The seqids do not move, so the next group
    /// starts where this one would have; kcp-go and our decoder take both kinds of datagram from one peer
    /// (they dispatch on each datagram's flag). The last call's parity is no longer current after it.
    pub fn bypass_next(&mut self) -> bool {
        let bypass = self.count == 0 && self.parity_budget == 0;
        if bypass {
            self.parity_len = 0;
            self.parity_ready = 0;
        }
        bypass
    }

    /// Sends only the first `k` (at most the configured count) parity shards of each group completed from
    /// now on; the seqids of the others stay reserved, so groups keep their alignment and a kcp-go decoder
    /// (which recovers a group from any `data` of its shards, and whose autotune ignores gaps) is unaffected.
    /// With `k == 0` no parity is computed and the group counts as skipped; no new group is started (see
    /// [`FecEncoder::bypass_next`]).
    pub fn set_parity_budget(&mut self, k: usize) {
        self.parity_budget = k.min(self.parity_shards);
    }

    /// The parity datagrams produced by the last [`FecEncoder::encode`] call (empty if it produced none),
    /// in order; the first `header_offset` bytes of each are free for the crypto header.
    pub fn parity_packets_mut(&mut self) -> impl Iterator<Item = &mut [u8]> {
        let len = self.parity_len;
        self.parity
            .iter_mut()
            .take(self.parity_ready)
            .map(move |p| &mut p.buf[..len])
    }

    /// Parity datagram `i` of the last [`FecEncoder::encode`] call, if it produced one.
    pub fn parity_packet(&self, i: usize) -> Option<&[u8]> {
        if i >= self.parity_ready {
            return None;
        }
        self.parity.get(i).map(|p| &p.buf[..self.parity_len])
    }

    /// The seqid the next data packet will get.
    pub fn next_seqid(&self) -> u32 {
        self.next
    }

    /// Groups sent without parity: by the latency rule ([`FecLimits::parity_max_age_ms`]) or a parity
    /// budget of 0 ([`FecEncoder::set_parity_budget`]).
    pub fn skipped_groups(&self) -> u64 {
        self.skipped_groups
    }
}

struct Stored {
    seqid: u32,
    is_data: bool,
    ts: u32,
    /// `packet[6..]`: `size | KCP` for data, the parity bytes for parity.
    shard: Vec<u8>,
}

/// What one call of [`FecDecoder::decode`] did, for the counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeEvents {
    /// Data packets evicted unrecovered because the queue was full (`FECShortShards`).
    pub short_shards: u64,
    /// The packet repeated a stored seqid and was ignored.
    pub duplicate: bool,
    /// Autotune switched to the peer's shard counts.
    pub retuned: bool,
}

/// The receiving half: stores FEC packets per group and rebuilds lost data shards from parity.
pub struct FecDecoder {
    data_shards: usize,
    parity_shards: usize,
    rx_limit: usize,
    limits: FecLimits,
    /// Stored packets, sorted by seqid (wrap-aware).
    rx: Vec<Stored>,
    /// Spare buffers (capacity [`MTU_LIMIT`]) so steady state allocates nothing.
    pool: Vec<Vec<u8>>,
    /// Reconstruction work area, one slot per shard position.
    work: Vec<(Vec<u8>, bool)>,
    /// Data shards rebuilt by the last call.
    recovered: Vec<Vec<u8>>,
    autotune: AutoTune,
    /// Whether the shard counts are known to be the peer's: configured, or confirmed by autotune.
    trusted: bool,
    rs: LazyRs,
}

impl std::fmt::Debug for FecDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FecDecoder")
            .field("data_shards", &self.data_shards)
            .field("parity_shards", &self.parity_shards)
            .field("stored", &self.rx.len())
            .finish()
    }
}

impl FecDecoder {
    /// A decoder expecting `data`/`parity` shards (autotune may change them later).
    pub fn new(data: usize, parity: usize, limits: &FecLimits) -> Result<Self, FecError> {
        let rs = LazyRs::new(data, parity)?;
        let n = data + parity;
        Ok(FecDecoder {
            data_shards: data,
            parity_shards: parity,
            rx_limit: limits.rx_multiple.max(1) * n,
            limits: limits.clone(),
            rx: Vec::new(),
            pool: Vec::new(),
            work: (0..n).map(|_| (Vec::new(), false)).collect(),
            recovered: Vec::new(),
            autotune: AutoTune::new(),
            trusted: true,
            rs,
        })
    }

    /// A decoder for a peer whose shard counts are unknown (FEC off locally, peer sends FEC). kcp-go starts
    /// such a decoder at 1/1; so do we, but it rebuilds nothing until autotune has seen the peer's pattern:
    /// a 1/1 reconstruction of another code's parity yields plausible-looking garbage (e.g. the XOR of
    /// three KCP segments, conv intact), which must never reach KCP.
    pub fn new_untuned(limits: &FecLimits) -> Self {
        let mut d = FecDecoder::new(1, 1, limits).expect("1/1 is a valid code");
        d.trusted = false;
        d
    }

    /// Current (data, parity) shard counts.
    pub fn shard_counts(&self) -> (usize, usize) {
        (self.data_shards, self.parity_shards)
    }

    /// Packets currently stored.
    pub fn stored(&self) -> usize {
        self.rx.len()
    }

    /// Most packets this decoder will store at once with its current shard counts.
    pub fn rx_limit(&self) -> usize {
        self.rx_limit
    }

    fn take_buf(&mut self) -> Vec<u8> {
        let mut b = self
            .pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MTU_LIMIT));
        b.clear();
        b
    }

    fn give_buf(&mut self, b: Vec<u8>) {
        self.pool.push(b);
    }

    /// Data shards (`size | KCP | zero padding`) rebuilt by the last [`FecDecoder::decode`], ascending.
    pub fn recovered(&self) -> &[Vec<u8>] {
        &self.recovered
    }

    /// Mutable access to the rebuilt shards (the codec trims them in place).
    pub(crate) fn recovered_mut(&mut self) -> &mut [Vec<u8>] {
        &mut self.recovered
    }

    /// Feeds one FEC packet (`seqid | flag | shard`, at least 6 bytes and at most [`MTU_LIMIT`]; the decoder
    /// keeps a copy). Afterwards [`FecDecoder::recovered`] holds the data shards it rebuilt, if any.
    pub fn decode(&mut self, packet: &[u8], now_ms: u32) -> DecodeEvents {
        let mut ev = DecodeEvents::default();
        while let Some(b) = self.recovered.pop() {
            self.give_buf(b);
        }
        if packet.len() < FEC_HEADER_LEN || packet.len() > MTU_LIMIT {
            return ev;
        }
        let seqid = le32(packet, 0);
        let is_data = le16(packet, 4) == TYPE_DATA;

        self.autotune.sample(is_data, seqid);
        let n = self.data_shards + self.parity_shards;
        let expect_data = (seqid as usize % n) < self.data_shards;
        if expect_data != is_data || !self.trusted {
            ev.retuned = self.retune();
        }

        // Insert in seqid order, ignoring duplicates; search from the back (packets mostly arrive in order).
        let mut at = 0;
        for i in (0..self.rx.len()).rev() {
            let d = seq_diff(seqid, self.rx[i].seqid);
            if d == 0 {
                ev.duplicate = true;
                return ev;
            }
            if d > 0 {
                at = i + 1;
                break;
            }
        }
        let mut shard = self.take_buf();
        shard.extend_from_slice(&packet[FEC_HEADER_LEN..]);
        self.rx.insert(
            at,
            Stored {
                seqid,
                is_data,
                ts: now_ms,
                shard,
            },
        );

        self.try_group(seqid, at);

        if self.rx.len() > self.rx_limit {
            let old = self.rx.remove(0);
            if old.is_data {
                ev.short_shards += 1;
            }
            self.give_buf(old.shard);
        }
        let expired = self
            .rx
            .iter()
            .take_while(|s| seq_diff(now_ms, s.ts) > self.limits.expire_ms as i32)
            .count();
        for s in self.rx.drain(..expired) {
            self.pool.push(s.shard);
        }
        ev
    }

    /// Looks at the group of the packet just stored at `at`: frees it when complete, rebuilds lost data
    /// shards when enough shards are present.
    fn try_group(&mut self, seqid: u32, at: usize) {
        let n = self.data_shards + self.parity_shards;
        let pos = seqid as usize % n;
        let begin = seqid.wrapping_sub(pos as u32);
        let end = begin.wrapping_add(n as u32 - 1);
        // The group's packets are contiguous in `rx`, within n slots around `at`.
        let lo = at.saturating_sub(pos);
        let hi = (lo + n).min(self.rx.len());
        let mut first = None;
        let (mut count, mut data_count, mut max) = (0, 0, 0);
        let mut consistent = true;
        for i in lo..hi {
            let s = &self.rx[i];
            if seq_diff(s.seqid, end) > 0 {
                break;
            }
            if seq_diff(s.seqid, begin) >= 0 {
                first.get_or_insert(i);
                count += 1;
                data_count += usize::from(s.is_data);
                max = max.max(s.shard.len());
                consistent &=
                    s.is_data == ((s.seqid.wrapping_sub(begin) as usize) < self.data_shards);
            }
        }
        let Some(first) = first else { return };
        if data_count == self.data_shards {
            self.free_range(first, count);
        } else if count >= self.data_shards && consistent && self.trusted {
            // Unlike kcp-go, a group whose flags contradict our shard counts (a peer with other counts, before
            // autotune catches up) is not reconstructed: it would only yield garbage. It ages out instead.
            self.reconstruct(first, count, begin, max);
            self.free_range(first, count);
        }
    }

    fn reconstruct(&mut self, first: usize, count: usize, begin: u32, max: usize) {
        let n = self.data_shards + self.parity_shards;
        for i in first..first + count {
            let pos = self.rx[i].seqid.wrapping_sub(begin) as usize;
            let mut shard = std::mem::take(&mut self.rx[i].shard);
            shard.resize(max, 0);
            self.work[pos] = (shard, true);
        }
        for pos in 0..n {
            if !self.work[pos].1 {
                let mut b = self.take_buf();
                b.resize(max, 0);
                self.work[pos].0 = b;
            }
        }
        let work = &mut self.work;
        let ok = self
            .rs
            .get()
            .is_some_and(|rs| rs.reconstruct_data(work).is_ok());
        for pos in 0..n {
            let (buf, present) = std::mem::take(&mut self.work[pos]);
            if ok && !present && pos < self.data_shards {
                self.recovered.push(buf);
            } else if present {
                // Hand the stored buffer back to its entry so free_range recycles it.
                let idx = (first..first + count)
                    .find(|&i| self.rx[i].seqid.wrapping_sub(begin) as usize == pos);
                match idx {
                    Some(i) => self.rx[i].shard = buf,
                    None => self.give_buf(buf),
                }
            } else {
                self.give_buf(buf);
            }
        }
    }

    fn free_range(&mut self, first: usize, count: usize) {
        for s in self.rx.drain(first..first + count) {
            self.pool.push(s.shard);
        }
    }

    /// Autotune: adopt the peer's shard counts if its flag pattern shows them.
    fn retune(&mut self) -> bool {
        let (Some(d), Some(p)) = (
            self.autotune.find_period(true),
            self.autotune.find_period(false),
        ) else {
            return false;
        };
        if d >= 256 || p >= 256 || d + p > self.limits.autotune_max_shards {
            return false;
        }
        if (d, p) == (self.data_shards, self.parity_shards) {
            self.trusted = true;
            return false;
        }
        let Ok(rs) = LazyRs::new(d, p) else {
            return false;
        };
        self.rs = rs;
        self.data_shards = d;
        self.parity_shards = p;
        self.rx_limit = self.limits.rx_multiple.max(1) * (d + p);
        self.work = (0..d + p).map(|_| (Vec::new(), false)).collect();
        self.trusted = true;
        true
    }
}

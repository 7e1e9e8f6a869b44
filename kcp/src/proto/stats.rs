//! Plain per-session statistics, the KCP-layer part of kcp-go's SNMP set plus the estimator state.

/// A snapshot returned by [`Kcp::stats`](super::Kcp::stats). Counters are totals since creation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Smoothed RTT in ms.
    pub srtt: i32,
    /// RTT variance in ms.
    pub rttvar: i32,
    /// Current retransmission timeout in ms.
    pub rto: u32,
    /// Congestion window in segments (meaningful when congestion control is on).
    pub cwnd: u32,
    /// Slow-start threshold.
    pub ssthresh: u32,
    /// The peer's last advertised free receive window.
    pub rmt_wnd: u32,
    /// The writers' window in force (follows the path when automatic).
    pub snd_wnd: u32,
    /// Most segments in flight unacknowledged (the window when fixed; about 1.25 BDP when automatic).
    pub pipe: u32,
    /// Smallest RTT seen in ms, as the automatic window measures it (0 when the window is fixed or no
    /// sample was taken yet).
    pub min_rtt: u32,
    /// Oldest unacknowledged sequence number.
    pub snd_una: u32,
    /// Next sequence number to send.
    pub snd_nxt: u32,
    /// Next sequence number expected from the peer.
    pub rcv_nxt: u32,
    /// `snd_nxt - snd_una`.
    pub in_flight: u32,
    /// Segments waiting to enter the send window.
    pub snd_queue: usize,
    /// Segments in the send window (including acked ones not yet passed by una).
    pub snd_buf: usize,
    /// Out-of-order segments held.
    pub rcv_buf: usize,
    /// In-order segments waiting for the application.
    pub rcv_queue: usize,
    /// Some segment reached the dead-link transmission count.
    pub dead_link: bool,

    /// Datagrams accepted by input (`InPkts`).
    pub in_pkts: u64,
    /// Bytes of accepted datagrams (`InBytes`).
    pub in_bytes: u64,
    /// Segments processed (`InSegs`).
    pub in_segs: u64,
    /// Malformed datagrams rejected (`KCPInErrors`).
    pub in_errors: u64,
    /// PUSH segments that were duplicates or outside the window (`RepeatSegs`).
    pub repeat_segs: u64,
    /// Datagrams emitted (`OutPkts`).
    pub out_pkts: u64,
    /// Bytes emitted including the reserved prefix (`OutBytes`).
    pub out_bytes: u64,
    /// Segments emitted, all commands (`OutSegs`).
    pub out_segs: u64,
    /// All retransmissions (`RetransSegs` = fast + early + lost).
    pub retrans_segs: u64,
    /// Fast retransmissions (`FastRetransSegs`).
    pub fast_retrans_segs: u64,
    /// Early retransmissions (`EarlyRetransSegs`).
    pub early_retrans_segs: u64,
    /// Ours: copies of unacknowledged segments sent in spare datagram room ([`Kcp::set_bundling`]); not
    /// counted in `retrans_segs`.
    ///
    /// [`Kcp::set_bundling`]: super::Kcp::set_bundling
    pub bundled_segs: u64,
    /// Timeout retransmissions (`LostSegs`).
    pub lost_segs: u64,
    /// Timeout retransmissions later shown unnecessary by an ACK of the earlier transmission.
    pub spurious_timeouts: u64,
}

//! Statistics: kcp-go's process-wide SNMP counters and per-session figures, as plain structs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! snmp_counters {
    ($($(#[$doc:meta])* $name:ident => $go:literal,)*) => {
        /// Process-wide counters with the names and meaning of kcp-go's `DefaultSnmp`
        /// (`kcp-go-packet.md` section 11). Updated with relaxed atomics; read with [`Snmp::snapshot`].
        #[derive(Debug, Default)]
        pub struct Snmp {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A copy of [`Snmp`] at one moment.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct SnmpSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Snmp {
            /// A zeroed counter set (the process-wide one is [`snmp`]).
            pub const fn new() -> Self {
                Self { $($name: AtomicU64::new(0),)* }
            }

            /// Reads every counter.
            pub fn snapshot(&self) -> SnmpSnapshot {
                SnmpSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }

        impl SnmpSnapshot {
            /// kcp-go's field names, in kcptun's `--snmplog` CSV order.
            pub const HEADER: &'static [&'static str] = &[$($go,)*];

            /// The values in [`SnmpSnapshot::HEADER`] order.
            pub fn values(&self) -> Vec<u64> {
                vec![$(self.$name,)*]
            }
        }
    };
}

snmp_counters! {
    /// Bytes accepted by session writes.
    bytes_sent => "BytesSent",
    /// Bytes returned by session reads.
    bytes_received => "BytesReceived",
    /// Most sessions open at once.
    max_conn => "MaxConn",
    /// Client sessions created.
    active_opens => "ActiveOpens",
    /// Server sessions created.
    passive_opens => "PassiveOpens",
    /// Sessions currently open.
    curr_estab => "CurrEstab",
    /// Client: datagram from an unexpected source; FEC packet shorter than 8 bytes; listener drops
    /// (unknown conv, full accept queue, session cap).
    in_errs => "InErrs",
    /// Checksum mismatch after decryption (also datagrams too short for the crypto header).
    in_csum_errors => "InCsumErrors",
    /// KCP input rejected a datagram (bad conv, length or command).
    kcp_in_errors => "KCPInErrors",
    /// Datagrams reaching KCP input after the crypto layer.
    in_pkts => "InPkts",
    /// Datagrams written to the socket.
    out_pkts => "OutPkts",
    /// KCP segments decoded.
    in_segs => "InSegs",
    /// KCP segments encoded.
    out_segs => "OutSegs",
    /// Bytes reaching KCP input after the crypto layer.
    in_bytes => "InBytes",
    /// Bytes written to the socket.
    out_bytes => "OutBytes",
    /// All retransmissions (fast + early + lost).
    retrans_segs => "RetransSegs",
    /// Fast retransmits.
    fast_retrans_segs => "FastRetransSegs",
    /// Early retransmits.
    early_retrans_segs => "EarlyRetransSegs",
    /// Timeout retransmits.
    lost_segs => "LostSegs",
    /// Duplicate data segments received.
    repeat_segs => "RepeatSegs",
    /// FEC parity packets received.
    fec_parity_shards => "FECParityShards",
    /// Recovered shards with an invalid size field.
    fec_errs => "FECErrs",
    /// Segments input from FEC recovery.
    fec_recovered => "FECRecovered",
    /// Data packets evicted from the FEC queue unrecovered.
    fec_short_shards => "FECShortShards",
}

static SNMP: Snmp = Snmp::new();

/// The process-wide counters (kcp-go's `DefaultSnmp`).
pub fn snmp() -> &'static Snmp {
    &SNMP
}

impl Snmp {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n != 0 {
            counter.fetch_add(n, Relaxed);
        }
    }

    pub(crate) fn session_opened(&self, active: bool) {
        if active {
            self.active_opens.fetch_add(1, Relaxed);
        } else {
            self.passive_opens.fetch_add(1, Relaxed);
        }
        let now = self.curr_estab.fetch_add(1, Relaxed) + 1;
        self.max_conn.fetch_max(now, Relaxed);
    }

    pub(crate) fn session_closed(&self) {
        self.curr_estab.fetch_sub(1, Relaxed);
    }
}

/// Figures of one session at one moment ([`KcpStream::stats`](super::KcpStream::stats)).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    /// Conversation id.
    pub conv: u32,
    /// Smoothed round-trip time, ms.
    pub srtt_ms: u32,
    /// Round-trip time variation, ms.
    pub rttvar_ms: u32,
    /// Current retransmission timeout, ms.
    pub rto_ms: u32,
    /// Congestion window, segments (meaningless when congestion control is off).
    pub cwnd: u32,
    /// Segments sent and not yet acknowledged.
    pub in_flight: u32,
    /// Segments waiting to be sent or acknowledged (kcp-go `WaitSnd`).
    pub wait_snd: u32,
    /// Peer's advertised receive window, segments.
    pub remote_window: u32,
    /// Writers' window in force, segments (follows the path with automatic windows).
    pub send_window: u32,
    /// Most segments unacknowledged in flight (about 1.25 bandwidth-delay products with automatic windows).
    pub pipe: u32,
    /// Smallest RTT seen, ms (automatic windows only; 0 otherwise).
    pub min_rtt_ms: u32,
    /// Retransmitted segments (all causes).
    pub retransmits: u64,
    /// Of those, retransmitted because ACKs of later segments arrived first (fast and early
    /// retransmissions), without a timeout. On a path that neither loses nor reorders, every one is spurious.
    pub fast_retransmits: u64,
    /// Copies of unacknowledged segments sent in spare datagram room
    /// ([`Config::bundle_unacked`](super::Config::bundle_unacked)).
    pub bundled: u64,
    /// Segments recovered by FEC.
    pub fec_recovered: u64,
    /// FEC groups sent without parity ([`Config::adaptive_parity`](super::Config::adaptive_parity)).
    pub fec_groups_without_parity: u64,
    /// Datagrams sent without FEC framing although FEC is on: outside a group while parity is left out
    /// ([`Config::adaptive_parity`](super::Config::adaptive_parity)).
    pub datagrams_without_fec: u64,
    /// Payload bytes accepted by writes.
    pub bytes_sent: u64,
    /// Payload bytes returned by reads.
    pub bytes_received: u64,
    /// Datagrams sent on the socket.
    pub datagrams_sent: u64,
    /// Datagrams received and accepted by the crypto layer.
    pub datagrams_received: u64,
}

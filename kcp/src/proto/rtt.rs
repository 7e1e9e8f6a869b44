//! RTT estimation and retransmission timeout, kcp-go's shift-based formula (spec kcp.md section 7).

/// Smallest RTO when `nodelay != 0`.
pub const RTO_NDL: u32 = 30;
/// Smallest RTO when `nodelay == 0`.
pub const RTO_MIN: u32 = 100;
/// Initial RTO.
pub const RTO_DEF: u32 = 200;
/// Largest RTO.
pub const RTO_MAX: u32 = 60_000;

/// kcp-go's RTT estimator state: smoothed RTT, RTT variance and the resulting RTO, all in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    /// Smoothed RTT (`rx_srtt`).
    pub srtt: i32,
    /// RTT variance (`rx_rttvar`).
    pub rttvar: i32,
    /// Current retransmission timeout (`rx_rto`).
    pub rto: u32,
    /// Lower clamp of the RTO (`rx_minrto`).
    pub min_rto: u32,
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator {
            srtt: 0,
            rttvar: 0,
            rto: RTO_DEF,
            min_rto: RTO_MIN,
        }
    }
}

impl RttEstimator {
    /// Feeds one RTT sample (`update_ack`). `interval` is the flush interval, the floor of the variance term.
    ///
    /// ```
    /// use kcp::proto::RttEstimator;
    /// let mut e = RttEstimator::default();
    /// e.update(100, 30);
    /// assert_eq!((e.srtt, e.rttvar, e.rto), (100, 50, 300));
    /// ```
    pub fn update(&mut self, rtt: i32, interval: u32) {
        if self.srtt == 0 {
            self.srtt = rtt;
            self.rttvar = rtt >> 1;
        } else {
            let mut delta = rtt.wrapping_sub(self.srtt);
            self.srtt = self.srtt.wrapping_add(delta >> 3);
            delta = delta.wrapping_abs();
            if rtt < self.srtt.wrapping_sub(self.rttvar) {
                self.rttvar = self
                    .rttvar
                    .wrapping_add(delta.wrapping_sub(self.rttvar) >> 5);
            } else {
                self.rttvar = self
                    .rttvar
                    .wrapping_add(delta.wrapping_sub(self.rttvar) >> 2);
            }
        }
        let rto =
            (self.srtt as u32).wrapping_add(interval.max((self.rttvar as u32).wrapping_shl(2)));
        self.rto = rto.max(self.min_rto).min(RTO_MAX);
    }
}

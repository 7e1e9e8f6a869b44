//! A send window sized from the measured bandwidth-delay product (ours; kcp-go's windows are fixed).
//!
//! With congestion control off, as every kcptun mode has it, KCP moves at most `window / RTT`: a window set
//! for a short path starves a long one, and one set for the longest path wastes memory on every other. The
//! sizer measures what the path delivers and sets two limits from the bandwidth-delay product (BDP):
//!
//! - the pipe: segments sent and not yet acknowledged, about 1.25 BDP once the path is full (BBR's
//!   pacing of `cwnd`). Only a quarter BDP waits in the bottleneck queue, so latency and self-inflicted
//!   loss stay low. In startup it grows as slow start, by every segment acknowledged (a flight doubles
//!   each round trip), until the RTT shows a queue that lasts (see [`WindowSizer::on_ack`]);
//! - the writers' window: segments unacknowledged or queued, 2 BDP, so that a BDP of data waits behind the
//!   pipe and no more (a longer queue only delays every other stream multiplexed on the session).
//!
//! The span from `snd_una` to `snd_nxt` is limited only by the ceiling (and the peer's window): with
//! selective ACKs, segments behind a hole are acknowledged but cannot leave the span until the
//! retransmission arrives, a round trip later (several if it is lost again), and the pipe must keep moving
//! meanwhile.
//!
//! Measurements:
//! - bandwidth: segments newly acknowledged per round, the largest of the last [`SAMPLES`] rounds. A round
//!   holds the ACKs of one flight: it lasts at least the minimum RTT and ends with the first ACK of a
//!   segment sent after it began (cut by time alone, a round may take the end of one flight's burst of
//!   ACKs and the start of the next: half the rate). As in BBR, a round counts as at least the time over
//!   which its segments were sent: ACKs held back and released at once (a descheduled peer, a batch of
//!   datagrams read together) would otherwise show a rate the path never had, and the maximum would hold
//!   the pipe above the path for [`SAMPLES`] rounds;
//! - delay: the smallest RTT seen on the session. Queueing delay the window itself causes does not count, so
//!   it cannot feed on its own queue;
//! - ACK aggregation: a peer that holds its ACKs (kcp-go sends them once per flush interval) acknowledges
//!   in bursts, and the pipe must hold what it sends meanwhile. As BBR's "extra acked": the most segments a
//!   burst acknowledged beyond what the measured rate explains, the largest of the last [`SAMPLES`]
//!   intervals, is added to the BDP. Against kcp-go at a 30 ms interval that is 30 ms of the rate; against a
//!   peer that acknowledges within 2 ms (ours), 2 ms, so the queue the pipe keeps is that much shorter.
//!
//! The configured window is the writers' floor and the first pipe, the configured maximum the ceiling of
//! both: memory stays bounded whatever the path reports.

/// Rounds the bandwidth maximum is taken over.
pub(crate) const SAMPLES: usize = 8;
/// Shortest round in ms (below it, timer granularity dominates the rate).
const MIN_INTERVAL: u32 = 10;
/// Writers' window = 2 BDP (+ slack).
const WINDOW_GAIN_X4: u64 = 8;
/// Pipe = 1.25 BDP once the path is full.
const PIPE_GAIN_X4: u64 = 5;
/// Slow start stops growing the pipe at 4 BDP of the last rate measured: that rate lags a round behind the
/// flight, and a flight doubles per round.
const STARTUP_CAP_GAIN_X4: u64 = 16;
/// Segments beyond the gains, for ACK batching on short paths.
const SLACK: u64 = 16;
/// Smallest pipe once measured, segments.
const MIN_PIPE: u32 = 32;
/// Rounds without 25 % more bandwidth after which the path counts as full.
const FULL_ROUNDS: u32 = 3;
/// RTT samples in a row showing a queue (and at least half a minimum RTT of them) that end startup.
const QUEUED_SAMPLES: u32 = 8;

#[derive(Clone, Debug)]
pub(crate) struct WindowSizer {
    floor: u32,
    ceil: u32,
    wnd: u32,
    pipe: u32,
    /// Flush interval, ms: the longest a kcp-go peer holds an ACK (for `drain_ms`).
    ack_delay: u32,
    agg: Aggregation,
    min_rtt: Option<u32>,
    /// Bandwidth (segments per second) when the path was last seen to grow, and intervals since.
    full_bw: u64,
    full_rounds: u32,
    /// Start of the current sampling interval (the caller's ms clock); `None` before the first ACK.
    start: Option<u32>,
    /// Send time of the newest segment acknowledged, at the interval's start and now.
    sent_start: Option<u32>,
    sent_last: Option<u32>,
    delivered: u64,
    /// Whether the sender was application-limited at any ACK of the current round.
    round_app_limited: bool,
    /// Whether a round not limited by the application has been sampled (only such a rate caps startup).
    path_sampled: bool,
    /// RTT samples in a row showing a queue (startup), and when the first of them came.
    queued_samples: u32,
    queued_since: u32,
    /// Delivery rates of the last intervals, segments per second.
    rates: RecentMax,
}

impl WindowSizer {
    /// A window between `floor` and `ceil` segments (a `ceil` at or below `floor` keeps it fixed).
    pub(crate) fn new(floor: u32, ceil: u32) -> WindowSizer {
        WindowSizer {
            floor,
            ceil,
            wnd: floor,
            pipe: floor,
            ack_delay: 0,
            agg: Aggregation::default(),
            min_rtt: None,
            full_bw: 0,
            full_rounds: 0,
            start: None,
            sent_start: None,
            sent_last: None,
            delivered: 0,
            round_app_limited: false,
            path_sampled: false,
            queued_samples: 0,
            queued_since: 0,
            rates: RecentMax::default(),
        }
    }

    /// Current window in segments.
    pub(crate) fn window(&self) -> u32 {
        self.wnd
    }

    /// Most segments sent and not acknowledged (at most the window).
    pub(crate) fn pipe(&self) -> u32 {
        self.pipe
    }

    /// Sets the flush interval (ms): how long a kcp-go peer may hold an ACK, added to `drain_ms`.
    pub(crate) fn set_ack_delay(&mut self, ms: u32) {
        self.ack_delay = ms;
    }

    /// Whether the window moves at all.
    pub(crate) fn is_auto(&self) -> bool {
        self.ceil > self.floor
    }

    /// The configured floor.
    pub(crate) fn floor(&self) -> u32 {
        self.floor
    }

    /// The configured ceiling (may be at or below the floor: then the window is fixed).
    pub(crate) fn ceil(&self) -> u32 {
        self.ceil
    }

    /// Smallest RTT seen, ms.
    pub(crate) fn min_rtt(&self) -> Option<u32> {
        self.min_rtt
    }

    /// New limits; the window is clamped into them at once.
    pub(crate) fn set_limits(&mut self, floor: u32, ceil: u32) {
        self.floor = floor;
        self.ceil = ceil;
        self.wnd = if self.is_auto() {
            self.wnd.clamp(floor, ceil)
        } else {
            floor
        };
        self.pipe = self.pipe.clamp(floor, self.wnd);
    }

    /// One ACK-carrying datagram processed at `now`: `acked` segments newly acknowledged, `rtt` its sample
    /// (from the send time its ACKs echo, which is therefore `now - rtt`).
    /// `app_limited`: the sender has nothing queued and room in the pipe, so the rate it sees is the
    /// application's, not the path's (such a sample only counts if it raises the maximum, as in BBR).
    pub(crate) fn on_ack(&mut self, now: u32, acked: u32, rtt: Option<u32>, app_limited: bool) {
        if !self.is_auto() {
            return;
        }
        if let Some(r) = rtt {
            let r = r.max(1);
            self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        }
        self.sample(now, acked, rtt, app_limited);
        if !self.full() && !app_limited {
            self.slow_start(now, acked, rtt);
        }
    }

    /// Rate sampling, one round at a time.
    fn sample(&mut self, now: u32, acked: u32, rtt: Option<u32>, app_limited: bool) {
        let sent = rtt.map(|r| now.wrapping_sub(r));
        let Some(start) = self.start else {
            return self.begin_round(now, acked, sent, app_limited);
        };
        self.agg.on_ack(now, acked, self.max_rate());
        let elapsed = now.wrapping_sub(start);
        // A clock step backwards (the caller's clock wraps or restarts) restarts the round.
        if elapsed > u32::MAX / 2 {
            return self.begin_round(now, acked, sent, app_limited);
        }
        // A round holds the ACKs of one flight: it ends with the first ACK of a segment sent after it began
        // (or after two intervals without one). Cut by time alone, a round in startup, where each flight's
        // ACKs come in a burst, may take the end of one burst and the start of the next: half the rate.
        let interval = self.min_rtt.unwrap_or(MIN_INTERVAL).max(MIN_INTERVAL);
        let next_flight = sent.is_some_and(|s| (s.wrapping_sub(start) as i32) >= 0);
        if elapsed < interval || !(next_flight || elapsed >= 2 * interval) {
            self.delivered += u64::from(acked);
            self.round_app_limited |= app_limited;
            self.note_sent(sent);
            return;
        }
        let sent_over = match (self.sent_start, self.sent_last) {
            (Some(a), Some(b)) => (b.wrapping_sub(a) as i32).max(0) as u32,
            _ => 0,
        };
        let rate = self.delivered * 1000 / u64::from(elapsed.max(sent_over));
        let limited = self.round_app_limited;
        self.begin_round(now, acked, sent, app_limited);
        self.agg.end_interval();
        if limited && rate < self.max_rate() {
            return;
        }
        self.rates.push(rate);
        self.path_sampled |= !limited;
        self.resize(limited);
    }

    /// Starts a sampling round with the ACK just processed (its segments belong to the new flight; `sent`:
    /// when the newest of them was sent).
    fn begin_round(&mut self, now: u32, acked: u32, sent: Option<u32>, app_limited: bool) {
        self.start = Some(now);
        self.sent_start = self.sent_last;
        self.note_sent(sent);
        self.delivered = u64::from(acked);
        self.round_app_limited = app_limited;
    }

    /// Keeps the send time of the newest segment acknowledged.
    fn note_sent(&mut self, sent: Option<u32>) {
        if let Some(s) = sent {
            if self
                .sent_last
                .is_none_or(|last| (s.wrapping_sub(last) as i32) > 0)
            {
                self.sent_last = Some(s);
            }
        }
    }

    /// Startup, per ACK: the pipe grows by what is acknowledged (each segment acknowledged lets two leave,
    /// so a flight doubles each round trip, as slow start), up to 4 BDP of the last rate measured. Grown by
    /// rate samples alone, which lag a round behind the flight they size, the pipe doubled only every other
    /// round trip: 8 round trips to fill 200 ms at 100 Mbit/s from 128 segments.
    ///
    /// Startup ends (the path counts as full) when [`QUEUED_SAMPLES`] RTT samples in a row, spanning at
    /// least half the minimum RTT, are an eighth above the minimum (4 to 16 ms, HyStart++'s threshold): a
    /// queue that lasts, so the flights no longer fit the path. Slow start's own bursts (two segments sent
    /// per ACK, at twice the rate the path delivers) queue too, but only while a burst lasts; a round's
    /// smallest RTT (HyStart++) ignores those, but sees a queue only a round after it stands, when the
    /// next flight has doubled again: at 200 ms that was 2.4 BDP in flight and thousands of drops at a
    /// 1,000-packet bottleneck. Failing both, startup ends after three rounds without 25 % more rate.
    fn slow_start(&mut self, now: u32, acked: u32, rtt: Option<u32>) {
        let ceil = self.top();
        let cap = if self.path_sampled {
            self.sized(STARTUP_CAP_GAIN_X4)
        } else {
            ceil
        };
        if self.pipe < cap {
            self.pipe = self.pipe.saturating_add(acked).min(cap).min(ceil);
            self.wnd = self.wnd.max(self.pipe);
        }
        let (Some(r), Some(min)) = (rtt, self.min_rtt) else {
            return;
        };
        if r < min + (min / 8).clamp(4, 16) {
            self.queued_samples = 0;
            return;
        }
        if self.queued_samples == 0 {
            self.queued_since = now;
        }
        self.queued_samples += 1;
        if self.queued_samples >= QUEUED_SAMPLES
            && now.wrapping_sub(self.queued_since) >= min / 2
            && self.path_sampled
        {
            self.full_rounds = FULL_ROUNDS;
            self.resize(false);
        }
    }

    /// The most either limit may reach: the configured maximum, or the configured window when that is larger
    /// (a fixed window).
    fn top(&self) -> u32 {
        self.ceil.max(self.floor)
    }

    fn full(&self) -> bool {
        self.full_rounds >= FULL_ROUNDS
    }

    /// How long until `segs` segments sent now are all acknowledged, ms, if the path keeps delivering at
    /// the measured rate: their delivery plus the peer's ACK delay. `None` before a rate is measured.
    pub(crate) fn drain_ms(&self, segs: usize) -> Option<u32> {
        let rate = self.max_rate();
        (rate > 0).then(|| {
            let ms = (segs as u64).saturating_mul(1000) / rate;
            (ms.min(u64::from(u32::MAX / 4)) as u32).saturating_add(self.ack_delay)
        })
    }

    fn max_rate(&self) -> u64 {
        self.rates.max()
    }

    /// `gain_x4` / 4 times the BDP (measured rate x minimum RTT, plus the ACKs the peer may hold) plus
    /// [`SLACK`].
    fn sized(&self, gain_x4: u64) -> u32 {
        let rtt = self.min_rtt.unwrap_or(0);
        let rate = self.max_rate();
        // ACKs held by the peer: at most the flush interval's worth (the most a kcp-go peer holds), and all
        // of it in startup, where the rate estimate lags and every burst looks like excess anyway, and where
        // the pipe must grow ahead of the rate it measures.
        let interval_worth = rate * u64::from(self.ack_delay) / 1000;
        let held = if self.full() {
            self.agg.allowance().min(interval_worth)
        } else {
            interval_worth
        };
        let bdp = rate * u64::from(rtt) / 1000 + held;
        ((gain_x4 * bdp / 4) + SLACK).min(u64::from(u32::MAX)) as u32
    }

    fn resize(&mut self, app_limited: bool) {
        if self.min_rtt.is_none() {
            return;
        }
        let rate = self.max_rate();
        if !self.full() && !app_limited {
            if rate * 4 >= self.full_bw * 5 {
                self.full_bw = rate;
                self.full_rounds = 0;
            } else {
                self.full_rounds += 1;
            }
        }
        let ceil = self.top();
        let wnd = self.sized(WINDOW_GAIN_X4).clamp(self.floor, ceil);
        if self.full() {
            self.wnd = wnd;
            // Not floored at the configured window: that one is the writers' floor and the first pipe, but a
            // pipe larger than the path holds overflows the bottleneck on every round trip, and nothing else
            // would throttle it (the span keeps sliding past holes).
            self.pipe = self
                .sized(PIPE_GAIN_X4)
                .clamp(MIN_PIPE.min(self.wnd), self.wnd);
        } else {
            // Startup: slow start grows the pipe, ACK by ACK (a jump here would leave in one burst, whose
            // queue would look like a full path).
            self.wnd = self.wnd.max(wnd).max(self.pipe);
        }
    }
}

/// Longest aggregation epoch, ms: while the rate estimate lags (startup), every burst looks like excess.
const MAX_EPOCH_MS: u32 = 1000;

/// Segments acknowledged in bursts beyond what the measured rate explains (BBR's "extra acked").
#[derive(Clone, Debug, Default)]
struct Aggregation {
    /// Start of the current epoch (ACKs arriving faster than the rate) and the segments acked since.
    start: Option<u32>,
    acked: u64,
    /// Largest excess in the current sampling interval, and in each of the last [`SAMPLES`].
    current: u64,
    past: RecentMax,
}

impl Aggregation {
    /// `rate`: the measured bandwidth, segments per second (0: not measured yet).
    fn on_ack(&mut self, now: u32, acked: u32, rate: u64) {
        if rate == 0 {
            return;
        }
        let expected = |start: u32| rate * u64::from(now.wrapping_sub(start)) / 1000;
        // An epoch lasts while ACKs stay ahead of the rate: once they fall behind it, the burst is over.
        let keep = self.start.is_some_and(|s| {
            let age = now.wrapping_sub(s);
            age <= MAX_EPOCH_MS && self.acked > expected(s)
        });
        if !keep {
            self.start = Some(now);
            self.acked = 0;
        }
        self.acked += u64::from(acked);
        let start = self.start.unwrap_or(now);
        self.current = self.current.max(self.acked.saturating_sub(expected(start)));
    }

    fn end_interval(&mut self) {
        self.past.push(self.current);
        self.current = 0;
    }

    /// Segments beyond the BDP the pipe needs so that bursts of ACKs do not starve it.
    fn allowance(&self) -> u64 {
        self.past.max().max(self.current)
    }
}

/// The largest of the last [`SAMPLES`] values pushed (0 before any).
#[derive(Clone, Debug, Default)]
struct RecentMax {
    values: [u64; SAMPLES],
    next: usize,
}

impl RecentMax {
    fn push(&mut self, v: u64) {
        self.values[self.next] = v;
        self.next = (self.next + 1) % SAMPLES;
    }

    fn max(&self) -> u64 {
        self.values.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a path delivering `min(pipe, bdp) / rtt`: an ACK every ms.
    fn run(s: &mut WindowSizer, rtt: u32, path_bdp: u32, from: u32, ms: u32) -> u32 {
        for t in from..from + ms {
            let rate_per_ms = s.pipe().min(path_bdp) as f64 / rtt as f64;
            // Whole segments: spread the fraction over the ms ticks.
            let acked = ((t + 1) as f64 * rate_per_ms) as u32 - (t as f64 * rate_per_ms) as u32;
            s.on_ack(t, acked, Some(rtt), false);
        }
        from + ms
    }

    #[test]
    fn pipe_settles_at_a_quarter_above_the_path_bdp() {
        let mut s = WindowSizer::new(128, 8192);
        let t = run(&mut s, 100, 1000, 0, 3000);
        let (w, p) = (s.window(), s.pipe());
        assert!((1900..=2100).contains(&w), "window {w}");
        assert!((1200..=1300).contains(&p), "pipe {p}");
        run(&mut s, 100, 1000, t, 3000);
        assert!(s.window().abs_diff(w) <= 40, "{} vs {w}", s.window());
        assert!(s.pipe().abs_diff(p) <= 20, "{} vs {p}", s.pipe());
    }

    #[test]
    fn acks_released_in_bursts_do_not_raise_the_rate() {
        // 10 segments/ms over 20 ms. Then, every 37 ms, the peer's ACKs are held for 15 ms and released
        // together, each datagram still echoing its segments' send time. Measured between ACK arrivals, an
        // interval that starts inside such a burst sees up to 1.7x the path's rate. (The pipe does grow by
        // the bursts, as it must: see `acks_held_by_the_peer_count_in_the_bdp`.)
        let mut s = WindowSizer::new(32, 8192);
        let t0 = run(&mut s, 20, 200, 0, 2000);
        let mut held = Vec::new();
        for t in t0..t0 + 3000 {
            if (t - t0) % 37 < 15 {
                held.push(t - 20);
                continue;
            }
            for sent in held.drain(..) {
                s.on_ack(t, 10, Some(t - sent), false);
            }
            s.on_ack(t, 10, Some(20), false);
        }
        assert!(
            s.max_rate() <= 11_000,
            "rate {}/s on a 10,000/s path",
            s.max_rate()
        );
    }

    /// A path delivering `min(pipe, path_bdp) / rtt` per ms, whose ACKs the peer sends every `hold` ms.
    fn run_held(s: &mut WindowSizer, rtt: u32, path_bdp: u32, hold: u32, ms: u32) {
        let mut held = 0;
        for t in 0..ms {
            let rate_per_ms = s.pipe().min(path_bdp) as f64 / rtt as f64;
            held += ((t + 1) as f64 * rate_per_ms) as u32 - (t as f64 * rate_per_ms) as u32;
            if t % hold == 0 {
                s.on_ack(t, held, Some(rtt), false);
                held = 0;
            }
        }
    }

    #[test]
    fn acks_held_by_the_peer_count_in_the_bdp() {
        // Rate 10 segments/ms over 100 ms; the peer acknowledges every 100 ms (a kcp-go flush interval):
        // the pipe covers the 100 ms of ACKs held as well, 1.25 x 2,000.
        let mut s = WindowSizer::new(16, 8192);
        s.set_ack_delay(100);
        run_held(&mut s, 100, 1000, 100, 4000);
        assert!((2400..=2600).contains(&s.pipe()), "pipe {}", s.pipe());
        // Acknowledged every 2 ms: 1.25 x (1,000 + 20).
        let mut s = WindowSizer::new(16, 8192);
        s.set_ack_delay(100);
        run_held(&mut s, 100, 1000, 2, 4000);
        assert!((1250..=1320).contains(&s.pipe()), "pipe {}", s.pipe());
    }

    /// ACK-clocked flights over a path of `rtt` ms and `per_ms` segments per ms with an unbounded queue, the
    /// sender keeping the pipe full for `ms`. Returns when the pipe first reached the path's BDP (ms) and the
    /// longest the queue got (ms of delay).
    fn flights(s: &mut WindowSizer, rtt: u32, per_ms: u32, ms: u32) -> (Option<u32>, u32) {
        let mut acks = std::collections::VecDeque::new(); // (ACK arrival, send time)
        let (mut in_flight, mut link_free, mut reached, mut max_queue) = (0u32, 0f64, None, 0u32);
        for t in 0..ms {
            let (mut n, mut newest) = (0, None);
            while acks.front().is_some_and(|&(at, _)| at <= t) {
                let (_, sent) = acks.pop_front().unwrap();
                n += 1;
                newest = Some(sent);
            }
            if let Some(sent) = newest {
                in_flight -= n;
                s.on_ack(t, n, Some(t - sent), false);
            }
            if reached.is_none() && s.pipe() >= rtt * per_ms {
                reached = Some(t);
            }
            while in_flight < s.pipe() {
                let depart = link_free.max(t as f64) + 1.0 / per_ms as f64;
                link_free = depart;
                max_queue = max_queue.max((depart - t as f64) as u32);
                acks.push_back((depart.ceil() as u32 + rtt, t));
                in_flight += 1;
            }
        }
        (reached, max_queue)
    }

    #[test]
    fn startup_fills_the_path_sooner_and_queues_less() {
        // 200 ms at 9 segments/ms, a BDP of 1,800 from a first pipe of 128; the peer may hold ACKs 20 ms.
        // Sampled by time and grown by rate samples only, the pipe reached the BDP after 1,608 ms, and
        // startup, ended by three rounds of flat rate, queued 243 ms (1.2 BDP).
        let mut s = WindowSizer::new(128, 65535);
        s.set_ack_delay(20);
        let (reached, max_queue) = flights(&mut s, 200, 9, 4000);
        let reached = reached.expect("the pipe reaches the BDP");
        assert!(reached <= 5 * 200, "BDP reached after {reached} ms");
        assert!(max_queue < 200, "queue reached {max_queue} ms");
        // And the pipe settles at 1.25 BDP and some.
        assert!((2200..=2700).contains(&s.pipe()), "pipe {}", s.pipe());
    }

    #[test]
    fn stays_within_limits() {
        let mut s = WindowSizer::new(128, 1000);
        run(&mut s, 100, 5000, 0, 3000);
        assert_eq!((s.window(), s.pipe()), (1000, 1000));
        let mut s = WindowSizer::new(128, 8192);
        // A trickle (application-limited) grows neither: both stay at the configured window.
        for t in 0..3000 {
            s.on_ack(t, u32::from(t % 100 == 0), Some(100), true);
        }
        assert_eq!((s.window(), s.pipe()), (128, 128));
        // Bulk after the trickle is still in startup: the pipe doubles per interval, not 1.25x.
        run(&mut s, 100, 1000, 3000, 800);
        assert!(s.pipe() >= 1000, "{}", s.pipe());
    }

    #[test]
    fn fixed_when_ceiling_not_above_floor() {
        let mut s = WindowSizer::new(128, 0);
        assert!(!s.is_auto());
        run(&mut s, 100, 5000, 0, 3000);
        assert_eq!(s.window(), 128);
    }

    #[test]
    fn shrinks_when_the_path_slows() {
        let mut s = WindowSizer::new(64, 8192);
        let t = run(&mut s, 50, 2000, 0, 2000);
        assert!(s.pipe() > 2000, "{}", s.pipe());
        run(&mut s, 50, 200, t, 2000);
        assert!(
            s.pipe() < 300 && s.window() < 700,
            "{} {}",
            s.pipe(),
            s.window()
        );
    }

    #[test]
    fn queueing_delay_does_not_inflate_it() {
        let mut s = WindowSizer::new(128, 65535);
        let t = run(&mut s, 100, 1000, 0, 2000);
        // RTT samples now include the queue the window builds: the minimum stays at the path's.
        run(&mut s, 200, 1000, t, 5000);
        assert_eq!(s.min_rtt(), Some(100));
        assert!(s.pipe() <= 1300, "{}", s.pipe());
    }
}

//! Detection of the peer's data/parity shard counts from the FEC flags it sends (kcp-go `autotune.go`).

const SAMPLES: usize = 258;

#[derive(Clone, Copy, Default)]
struct Pulse {
    is_data: bool,
    seqid: u32,
}

/// Ring of the last FEC flags seen, indexed by `seqid mod 258`.
#[derive(Clone)]
pub(crate) struct AutoTune {
    pulses: [Pulse; SAMPLES],
}

impl AutoTune {
    pub(crate) fn new() -> AutoTune {
        AutoTune {
            pulses: [Pulse::default(); SAMPLES],
        }
    }

    pub(crate) fn sample(&mut self, is_data: bool, seqid: u32) {
        self.pulses[seqid as usize % SAMPLES] = Pulse { is_data, seqid };
    }

    /// Length of the first complete run of `level` pulses with consecutive seqids, or `None`.
    pub(crate) fn find_period(&self, level: bool) -> Option<usize> {
        let p = &self.pulses;
        // Left edge: the first index where the level switches to `level` between consecutive seqids.
        let mut left = 0;
        for i in 1..SAMPLES {
            if p[i - 1].is_data != level
                && p[i].is_data == level
                && p[i - 1].seqid.wrapping_add(1) == p[i].seqid
            {
                left = i;
                break;
            }
        }
        // Right edge: walk on while seqids stay consecutive, until `level` switches back.
        let mut right = 0;
        for i in left + 1..SAMPLES {
            if p[i - 1].seqid.wrapping_add(1) != p[i].seqid {
                return None;
            }
            if p[i - 1].is_data == level && p[i].is_data != level {
                right = i;
                break;
            }
        }
        right.checked_sub(left).filter(|&n| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_peers_shard_counts() {
        let mut t = AutoTune::new();
        // A peer with D=4, P=2 sends seqids 0.. with positions 0..3 data, 4..5 parity.
        for seq in 0..300u32 {
            t.sample(seq % 6 < 4, seq);
        }
        assert_eq!(t.find_period(true), Some(4));
        assert_eq!(t.find_period(false), Some(2));
    }

    #[test]
    fn gaps_give_up() {
        let mut t = AutoTune::new();
        for seq in (0..300u32).filter(|s| s % 2 == 0) {
            t.sample(seq % 6 < 4, seq);
        }
        assert_eq!(t.find_period(true), None);
    }
}

//! Property tests: any loss pattern within the parity budget, reordering and duplication give back every
//! KCP datagram intact; beyond the budget, nothing wrong ever comes out.

use std::collections::HashSet;

use kcp::codec::{Codec, CodecConfig, CryptKind, derive_key};
use proptest::prelude::*;

/// A KCP-looking datagram (cmd byte 81 at offset 4) whose bytes are a function of `id`.
fn kcp_datagram(id: u32, len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(131).wrapping_add(id * 7) as u8)
        .collect();
    d[..4].copy_from_slice(&id.to_le_bytes());
    d[4] = 81;
    d
}

#[derive(Debug, Clone)]
struct Scenario {
    crypt: CryptKind,
    data: usize,
    parity: usize,
    lens: Vec<usize>,
    /// Per complete group: positions to drop (may exceed the parity count when `overload`).
    drops: Vec<Vec<usize>>,
    /// Per complete group: a permutation seed and duplicates.
    shuffle_seeds: Vec<u64>,
    dups: Vec<usize>,
}

fn scenario(overload: bool) -> impl Strategy<Value = Scenario> {
    let crypts = prop::sample::select(vec![
        CryptKind::Null,
        CryptKind::None,
        CryptKind::Aes256,
        CryptKind::Salsa20,
        CryptKind::Xor,
        CryptKind::Tea,
    ]);
    (crypts, 1usize..=10, 1usize..=4, 1usize..=60).prop_flat_map(
        move |(crypt, data, parity, count)| {
            let n = data + parity;
            let groups = count / data;
            let max_drop = if overload { n } else { parity };
            (
                Just(crypt),
                Just(data),
                Just(parity),
                prop::collection::vec(24usize..=1300, count),
                prop::collection::vec(prop::collection::vec(0..n, 0..=max_drop), groups),
                prop::collection::vec(any::<u64>(), groups),
                prop::collection::vec(0usize..(count + groups * parity + 1), 0..8),
            )
                .prop_map(|(crypt, data, parity, lens, drops, shuffle_seeds, dups)| {
                    Scenario {
                        crypt,
                        data,
                        parity,
                        lens,
                        drops,
                        shuffle_seeds,
                        dups,
                    }
                })
        },
    )
}

/// Encodes the scenario's stream; returns the KCP datagrams and the wire datagrams grouped by FEC group
/// (each wire datagram tagged with its position in the group).
/// Wire datagrams of one FEC group, each with its position in the group.
type Group = Vec<(usize, Vec<u8>)>;
/// A KCP datagram as decoded, with its `recovered` flag.
type Output = (Vec<u8>, bool);

fn encode(s: &Scenario, cfg: &CodecConfig) -> (Vec<Vec<u8>>, Vec<Group>) {
    let mut tx = Codec::new(cfg).unwrap();
    let h = tx.header_len();
    let mut kcp = Vec::new();
    let mut groups = vec![Vec::new()];
    for (i, &len) in s.lens.iter().enumerate() {
        let len = len.min(1500 - h);
        let d = kcp_datagram(i as u32, len);
        let mut b = vec![0u8; h];
        b.extend_from_slice(&d);
        kcp.push(d);
        let parity: Vec<Vec<u8>> = tx
            .encode(&mut b, i as u32)
            .unwrap()
            .map(<[u8]>::to_vec)
            .collect();
        let g = groups.last_mut().unwrap();
        g.push((g.len(), b));
        if !parity.is_empty() {
            for p in parity {
                let g = groups.last_mut().unwrap();
                g.push((g.len(), p));
            }
            groups.push(Vec::new());
        }
    }
    (kcp, groups)
}

/// Applies drops (complete groups only), shuffles within each group and across neighbouring groups, adds
/// duplicates; returns the datagrams in arrival order and the KCP ids that were dropped.
fn deliver(s: &Scenario, groups: Vec<Group>) -> (Vec<Vec<u8>>, HashSet<u32>) {
    let mut rng_state = 0u64;
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut dropped = HashSet::new();
    for (gi, group) in groups.into_iter().enumerate() {
        let complete = gi < s.drops.len();
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for (pos, dg) in group {
            if complete && s.drops[gi].contains(&pos) {
                if pos < s.data {
                    dropped.insert((gi * s.data + pos) as u32);
                }
                continue;
            }
            kept.push(dg);
        }
        if complete {
            rng_state ^= s.shuffle_seeds[gi];
            // Fisher-Yates with a small xorshift, seeded by proptest.
            for i in (1..kept.len()).rev() {
                rng_state ^= rng_state << 13;
                rng_state ^= rng_state >> 7;
                rng_state ^= rng_state << 17;
                kept.swap(i, (rng_state % (i as u64 + 1)) as usize);
            }
        }
        // Let up to two packets of this group overtake the last two of the previous one.
        let tail = order.split_off(order.len().saturating_sub(2));
        let mut rest = kept.into_iter();
        order.extend(rest.by_ref().take(2));
        order.extend(tail);
        order.extend(rest);
    }
    for &d in &s.dups {
        if !order.is_empty() {
            let i = d % order.len();
            let copy = order[i].clone();
            order.insert((i + 3).min(order.len()), copy);
        }
    }
    (order, dropped)
}

fn run(s: &Scenario) -> (Vec<Vec<u8>>, Vec<Output>, HashSet<u32>) {
    let cfg = CodecConfig::new(s.crypt, derive_key("prop"), s.data, s.parity);
    let (kcp, groups) = encode(s, &cfg);
    let (arrivals, dropped) = deliver(s, groups);
    let mut rx = Codec::new(&cfg).unwrap();
    let mut out = Vec::new();
    for (t, mut dg) in arrivals.into_iter().enumerate() {
        out.extend(
            rx.decode(&mut dg, t as u32)
                .map(|p| (p.data.to_vec(), p.recovered)),
        );
    }
    (kcp, out, dropped)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn within_parity_budget_everything_arrives_intact(s in scenario(false)) {
        let (kcp, out, dropped) = run(&s);
        let sent: HashSet<&[u8]> = kcp.iter().map(Vec::as_slice).collect();
        for (d, _) in &out {
            prop_assert!(sent.contains(d.as_slice()), "a datagram that was never sent came out");
        }
        let got: HashSet<&[u8]> = out.iter().map(|(d, _)| d.as_slice()).collect();
        for (i, d) in kcp.iter().enumerate() {
            prop_assert!(got.contains(d.as_slice()), "datagram {} lost (dropped: {})", i, dropped.contains(&(i as u32)));
        }
        // Every dropped data datagram was rebuilt by FEC (a late duplicate may rebuild others too).
        for id in &dropped {
            prop_assert!(out.iter().any(|(d, r)| *r && d == &kcp[*id as usize]), "datagram {} not rebuilt", id);
        }
    }

    #[test]
    fn beyond_parity_budget_nothing_wrong_comes_out(s in scenario(true)) {
        let (kcp, out, _) = run(&s);
        let sent: HashSet<&[u8]> = kcp.iter().map(Vec::as_slice).collect();
        for (d, _) in &out {
            prop_assert!(sent.contains(d.as_slice()), "a datagram that was never sent came out");
        }
    }
}

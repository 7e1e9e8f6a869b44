//! Behaviour of the envelope beyond the byte vectors: bounds, expiry, duplicates, autotune, the latency rule,
//! errors.

use kcp::codec::{
    Codec, CodecConfig, CryptKind, DropReason, EncodeError, FecDecoder, FecEncoder, FecLimits,
    TYPE_DATA, TYPE_PARITY, derive_key, peek_conv_sn,
};

fn fec_packet(seqid: u32, flag: u16, body: &[u8]) -> Vec<u8> {
    let mut p = seqid.to_le_bytes().to_vec();
    p.extend_from_slice(&flag.to_le_bytes());
    p.extend_from_slice(body);
    p
}

/// A KCP datagram of `len` bytes whose content names `id`.
fn kcp_datagram(id: u32, len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(id) as u8)
        .collect();
    d[..4].copy_from_slice(&id.to_le_bytes());
    d[4] = 81; // a PUSH cmd, so it never looks like an FEC flag
    d
}

fn framed(codec: &Codec, kcp: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; codec.header_len()];
    b.extend_from_slice(kcp);
    b
}

#[test]
fn decoder_keeps_at_most_rx_limit_packets_and_counts_short_shards() {
    let limits = FecLimits::default();
    let mut dec = FecDecoder::new(3, 2, &limits).unwrap();
    assert_eq!(dec.rx_limit(), 15);
    let mut short = 0;
    // One data packet from each of 40 groups: none can ever complete.
    for g in 0..40u32 {
        short += dec
            .decode(&fec_packet(g * 5, TYPE_DATA, &[4, 0, 1, 2]), g)
            .short_shards;
        assert!(dec.stored() <= dec.rx_limit());
        assert!(dec.recovered().is_empty());
    }
    assert_eq!(dec.stored(), 15);
    assert_eq!(short, 25);
}

#[test]
fn decoder_expires_old_packets() {
    let mut dec = FecDecoder::new(
        3,
        2,
        &FecLimits {
            expire_ms: 1000,
            ..FecLimits::default()
        },
    )
    .unwrap();
    dec.decode(&fec_packet(0, TYPE_DATA, &[4, 0, 1, 2]), 0);
    dec.decode(&fec_packet(5, TYPE_DATA, &[4, 0, 1, 2]), 1000);
    assert_eq!(dec.stored(), 2, "exactly 1000 ms old is kept");
    dec.decode(&fec_packet(10, TYPE_DATA, &[4, 0, 1, 2]), 1001);
    assert_eq!(dec.stored(), 2, "the packet from t=0 expired");
    dec.decode(
        &fec_packet(15, TYPE_DATA, &[4, 0, 1, 2]),
        u32::MAX.wrapping_add(5000),
    ); // clock wrapped
    assert_eq!(dec.stored(), 1);
}

#[test]
fn decoder_ignores_duplicates() {
    let mut dec = FecDecoder::new(3, 2, &FecLimits::default()).unwrap();
    let p = fec_packet(7, TYPE_DATA, &[4, 0, 1, 2]);
    assert!(!dec.decode(&p, 0).duplicate);
    assert!(dec.decode(&p, 0).duplicate);
    assert_eq!(dec.stored(), 1);
}

#[test]
fn encoder_numbers_groups_and_wraps_at_paws() {
    let mut enc = FecEncoder::new(2, 1, 0, &FecLimits::default()).unwrap();
    let mut seqids = Vec::new();
    for _ in 0..4 {
        let mut b = vec![0u8; 8 + 24];
        let n = enc.encode(&mut b, 0);
        seqids.push(u32::from_le_bytes(b[..4].try_into().unwrap()));
        seqids.extend(
            enc.parity_packets_mut()
                .map(|p| u32::from_le_bytes(p[..4].try_into().unwrap())),
        );
        assert_eq!(n, usize::from(seqids.len() % 3 == 0));
    }
    assert_eq!(seqids, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn stale_group_skips_parity_but_keeps_alignment() {
    let limits = FecLimits {
        parity_max_age_ms: Some(100),
        ..FecLimits::default()
    };
    let mut enc = FecEncoder::new(2, 1, 0, &limits).unwrap();
    let mut send = |now| {
        let mut b = vec![0u8; 8 + 24];
        let n = enc.encode(&mut b, now);
        (u32::from_le_bytes(b[..4].try_into().unwrap()), n)
    };
    assert_eq!(send(0), (0, 0));
    assert_eq!(send(50), (1, 1), "fresh group: parity");
    assert_eq!(send(60), (3, 0));
    assert_eq!(
        send(200),
        (4, 0),
        "140 ms gap inside the group: parity skipped"
    );
    assert_eq!(
        send(210),
        (6, 0),
        "the next group still starts on its boundary"
    );
    assert_eq!(enc.skipped_groups(), 1);
    // Off by default: kcp-go v5.6.1 always sends parity.
    let mut plain = FecEncoder::new(2, 1, 0, &FecLimits::default()).unwrap();
    let mut b = vec![0u8; 32];
    plain.encode(&mut b, 0);
    assert_eq!(plain.encode(&mut b, 1_000_000), 1);
}

#[test]
fn autotune_follows_a_peer_with_other_shard_counts() {
    let key = derive_key("k");
    let mut tx = Codec::new(&CodecConfig::new(CryptKind::Aes256, key, 4, 2)).unwrap();
    let mut rx = Codec::new(&CodecConfig::new(CryptKind::Aes256, key, 10, 3)).unwrap();
    let mut wire = Vec::new();
    for i in 0..60u32 {
        let mut b = framed(&tx, &kcp_datagram(i, 40 + i as usize));
        let parity: Vec<Vec<u8>> = tx.encode(&mut b, i).unwrap().map(<[u8]>::to_vec).collect();
        wire.push((i, b));
        wire.extend(parity.into_iter().map(|p| (u32::MAX, p)));
    }
    // Lose data packet 50 (in the 13th group); by then autotune has seen the 4/2 pattern.
    let mut recovered = Vec::new();
    for (id, mut b) in wire {
        if id == 50 {
            continue;
        }
        recovered.extend(
            rx.decode(&mut b, 0)
                .filter(|p| p.recovered)
                .map(|p| p.data.to_vec()),
        );
    }
    assert_eq!(rx.decoder_shards(), Some((4, 2)));
    assert!(rx.stats().fec_retunes >= 1);
    assert_eq!(recovered, vec![kcp_datagram(50, 90)]);
}

#[test]
fn fec_off_locally_still_decodes_a_peer_with_fec() {
    let key = derive_key("k");
    let mut tx = Codec::new(&CodecConfig::new(CryptKind::Salsa20, key, 3, 1)).unwrap();
    let mut rx = Codec::new(&CodecConfig::new(CryptKind::Salsa20, key, 0, 0)).unwrap();
    assert_eq!(rx.header_len(), 20);
    assert_eq!(rx.decoder_shards(), None);
    let mut regular = 0;
    for i in 0..40u32 {
        let mut b = framed(&tx, &kcp_datagram(i, 64));
        let parity: Vec<Vec<u8>> = tx.encode(&mut b, i).unwrap().map(<[u8]>::to_vec).collect();
        regular += rx
            .decode(&mut b, 0)
            .filter(|p| !p.recovered && p.data == kcp_datagram(i, 64))
            .count();
        for mut p in parity {
            assert_eq!(
                rx.decode(&mut p, 0).count(),
                0,
                "nothing to rebuild, and never garbage"
            );
        }
    }
    assert_eq!(regular, 40);
    // Once tuned, losses are repaired.
    let mut got = Vec::new();
    for i in 40..43u32 {
        let mut b = framed(&tx, &kcp_datagram(i, 64));
        let parity: Vec<Vec<u8>> = tx.encode(&mut b, i).unwrap().map(<[u8]>::to_vec).collect();
        if i != 41 {
            got.extend(rx.decode(&mut b, 0).map(|p| (p.data.to_vec(), p.recovered)));
        }
        for mut p in parity {
            got.extend(rx.decode(&mut p, 0).map(|p| (p.data.to_vec(), p.recovered)));
        }
    }
    let want = [(40, false), (41, true), (42, false)].map(|(i, r)| (kcp_datagram(i, 64), r));
    assert_eq!(got, want);
    assert_eq!(
        rx.decoder_shards(),
        Some((3, 1)),
        "created 1/1 on first use, then autotuned"
    );
}

#[test]
fn null_cipher_has_no_crypto_header() {
    let cfg = CodecConfig::new(CryptKind::Null, [0; 32], 0, 0);
    let mut c = Codec::new(&cfg).unwrap();
    assert_eq!(c.header_len(), 0);
    let seg = kcp_datagram(9, 30);
    let mut b = seg.clone();
    assert_eq!(c.encode(&mut b, 0).unwrap().count(), 0);
    assert_eq!(b, seg, "nothing added, nothing encrypted");
    let got: Vec<_> = c.decode(&mut b, 0).map(|p| p.data.to_vec()).collect();
    assert_eq!(got, vec![seg]);
    let fec = Codec::new(&CodecConfig::new(CryptKind::Null, [0; 32], 10, 3)).unwrap();
    assert_eq!(fec.header_len(), 8);
}

#[test]
fn bad_input_is_counted_and_dropped() {
    let cfg = CodecConfig::kcptun("aes", "x", 10, 3);
    let mut c = Codec::new(&cfg).unwrap();
    assert_eq!(c.open(&mut [0u8; 19]).unwrap_err(), DropReason::Short);
    assert_eq!(c.open(&mut [0u8; 1501]).unwrap_err(), DropReason::TooLong);
    assert_eq!(c.open(&mut [0u8; 100]).unwrap_err(), DropReason::Checksum);
    // A valid envelope around too few bytes for a KCP header.
    let mut tiny = vec![0u8; 20 + 10];
    Codec::new(&CodecConfig::kcptun("aes", "x", 0, 0))
        .unwrap()
        .encode(&mut tiny, 0)
        .unwrap();
    assert_eq!(c.open(&mut tiny).unwrap_err(), DropReason::Short);
    let s = c.stats();
    assert_eq!(
        (s.short_drops, s.in_errs, s.in_csum_errors, s.in_pkts),
        (2, 1, 1, 0)
    );

    assert_eq!(
        c.encode(&mut [0u8; 27], 0).unwrap_err(),
        EncodeError::TooShort
    );
    assert_eq!(
        c.encode(&mut [0u8; 1501], 0).unwrap_err(),
        EncodeError::TooLong
    );
}

#[test]
fn listener_demux_key() {
    let mut seg = kcp_datagram(0, 24);
    seg[..4].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
    seg[12..16].copy_from_slice(&5u32.to_le_bytes());
    assert_eq!(peek_conv_sn(&seg), Some((0xdead_beef, 5)));
    let data = fec_packet(3, TYPE_DATA, &[&[26, 0][..], &seg].concat());
    assert_eq!(peek_conv_sn(&data), Some((0xdead_beef, 5)));
    assert_eq!(peek_conv_sn(&fec_packet(3, TYPE_PARITY, &[0; 40])), None);
    assert_eq!(peek_conv_sn(&data[..20]), None);
}

#[test]
fn parity_datagrams_are_as_long_as_the_longest_in_the_group() {
    let mut c = Codec::new(&CodecConfig::kcptun("aes", "k", 3, 2)).unwrap();
    let mut lens = Vec::new();
    for (i, len) in [100usize, 1322, 40].into_iter().enumerate() {
        let mut b = framed(&c, &kcp_datagram(i as u32, len));
        lens.extend(c.encode(&mut b, 0).unwrap().map(<[u8]>::len));
    }
    assert_eq!(lens, [1350, 1350]);
    assert_eq!(c.stats().out_pkts, 5);
}

#[test]
fn parity_budget_sends_fewer_shards_and_the_peer_still_recovers() {
    let key = derive_key("k");
    let mut tx = Codec::new(&CodecConfig::new(CryptKind::Aes256, key, 10, 3)).unwrap();
    let mut rx = Codec::new(&CodecConfig::new(CryptKind::Aes256, key, 10, 3)).unwrap();
    assert_eq!(tx.parity_shards(), 3);
    // Budgets per run of 10 datagrams: full parity; one shard; none (set at a group boundary: the 10 go
    // without FEC framing); full again; none set in the middle of the group (it is finished without parity,
    // the 5 after it go unframed); full again.
    let budgets = [(0, 3), (10, 1), (20, 0), (30, 7), (45, 0), (55, 3)];
    let mut wire = Vec::new();
    let mut parity_after = Vec::new();
    let mut unframed = Vec::new();
    for i in 0..65u32 {
        if let Some(&(_, k)) = budgets.iter().find(|(at, _)| *at == i) {
            tx.set_parity_budget(k);
        }
        let kcp = kcp_datagram(i, 60 + i as usize);
        let mut b = framed(&tx, &kcp);
        let parity = tx.encode(&mut b, i).unwrap();
        let start = parity.data_start();
        let parity: Vec<Vec<u8>> = parity.map(<[u8]>::to_vec).collect();
        if start > 0 {
            assert_eq!(start, 8);
            unframed.push(i);
        }
        assert_eq!(b.len() - start, tx.header_len() + kcp.len() - start);
        if !parity.is_empty() {
            parity_after.push((i, parity.len()));
        }
        wire.push((i, b[start..].to_vec()));
        wire.extend(parity.into_iter().map(|p| (u32::MAX, p)));
    }
    // 50..=54 are unframed, 55..=64 are a group.
    assert_eq!(
        parity_after,
        [(9, 3), (19, 1), (39, 3), (64, 3)],
        "budget clamped to the configured 3"
    );
    let want_unframed: Vec<u32> = (20..30).chain(50..55).collect();
    assert_eq!(unframed, want_unframed);
    assert_eq!(tx.stats().fec_bypassed, 15);
    assert_eq!(tx.stats().fec_parity_skipped, 1, "the group open at 45");
    // Lose one data packet in each run: the runs with parity are repaired; the others arrive as KCP.
    let lost = [4, 14, 24, 34, 44, 52, 60];
    let mut recovered = Vec::new();
    let mut regular = Vec::new();
    for (id, mut b) in wire {
        if lost.contains(&id) {
            continue;
        }
        for p in rx.decode(&mut b, 0) {
            if p.recovered {
                recovered.push(p.data.to_vec());
            } else {
                regular.push(p.data.to_vec());
            }
        }
    }
    assert_eq!(
        recovered,
        vec![
            kcp_datagram(4, 64),
            kcp_datagram(14, 74),
            kcp_datagram(34, 94),
            kcp_datagram(60, 120),
        ]
    );
    let want_regular: Vec<Vec<u8>> = (0..65)
        .filter(|i| !lost.contains(i))
        .map(|i| kcp_datagram(i, 60 + i as usize))
        .collect();
    assert_eq!(
        regular, want_regular,
        "unframed datagrams decode as plain KCP"
    );
    assert_eq!(
        rx.decoder_shards(),
        Some((10, 3)),
        "no retune: gaps are not a new pattern"
    );
    assert_eq!(rx.stats().fec_retunes, 0);
}

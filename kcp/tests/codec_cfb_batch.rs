//! The interleaved and in-backend CFB paths are byte-identical to one-datagram-at-a-time CFB: batch encryption
//! against `BlockCrypt::encrypt`, and `BlockCrypt::encrypt`/`decrypt` against the `cfb-mode` crate, for random lengths
//! and chain counts (including more chains than lanes, empty and sub-block chains); and
//! `Codec::encode_batch` against `Codec::encode` datagram by datagram, with the same nonces.

use aes::{Aes128, Aes192, Aes256};
use cipher::{InnerIvInit, KeyInit};
use kcp::codec::{BlockCrypt, Codec, CodecConfig, CryptKind, FIXED_IV, NonceSource, derive_key};
use proptest::prelude::*;

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn kinds() -> impl Strategy<Value = CryptKind> {
    proptest::sample::select(
        CryptKind::ALL
            .into_iter()
            .filter(|k| *k != CryptKind::Null)
            .collect::<Vec<_>>(),
    )
}

/// Reference CFB by the `cfb-mode` crate over `aes` 0.9 (AES kinds only; ours runs on `aes` 0.8).
fn reference_cfb(kind: CryptKind, key: &[u8; 32], buf: &mut [u8], encrypt: bool) -> bool {
    fn run<C: cipher::BlockCipherEncrypt<BlockSize = cipher::consts::U16>>(
        c: C,
        buf: &mut [u8],
        encrypt: bool,
    ) {
        let iv = &cipher::array::Array::from(FIXED_IV);
        if encrypt {
            cfb_mode::Encryptor::<C>::inner_iv_init(c, iv).encrypt(buf);
        } else {
            cfb_mode::Decryptor::<C>::inner_iv_init(c, iv).decrypt(buf);
        }
    }
    match kind {
        CryptKind::Aes128 => run(Aes128::new_from_slice(&key[..16]).unwrap(), buf, encrypt),
        CryptKind::Aes192 => run(Aes192::new_from_slice(&key[..24]).unwrap(), buf, encrypt),
        CryptKind::Aes256 => run(Aes256::new_from_slice(key).unwrap(), buf, encrypt),
        _ => return false,
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn batch_encrypt_equals_serial(
        kind in kinds(),
        lens in proptest::collection::vec(0usize..1501, 0..80),
        seed in any::<u64>(),
    ) {
        let c = BlockCrypt::new(kind, &derive_key("batch")).unwrap();
        let mut batch: Vec<Vec<u8>> =
            lens.iter().enumerate().map(|(i, &l)| bytes(l, seed ^ i as u64)).collect();
        let mut serial = batch.clone();
        c.encrypt_many(batch.iter_mut().map(Vec::as_mut_slice));
        for s in &mut serial {
            c.encrypt(s);
        }
        prop_assert_eq!(&batch, &serial);
        for b in &mut batch {
            c.decrypt(b);
        }
        let plain: Vec<Vec<u8>> =
            lens.iter().enumerate().map(|(i, &l)| bytes(l, seed ^ i as u64)).collect();
        prop_assert_eq!(batch, plain);
    }

    #[test]
    fn encode_batch_equals_encode(
        kind in proptest::sample::select(CryptKind::ALL.to_vec()),
        shards in proptest::sample::select(vec![(0usize, 0usize), (10, 3), (3, 2), (1, 1), (5, 7)]),
        flushes in proptest::collection::vec(proptest::collection::vec(0usize..1400, 0..40), 1..5),
        budgets in proptest::collection::vec(0usize..4, 5),
        seed in any::<u64>(),
    ) {
        let cfg = CodecConfig::new(kind, derive_key("envelope"), shards.0, shards.1);
        let (mut one, mut many) = (Codec::new(&cfg).unwrap(), Codec::new(&cfg).unwrap());
        let nonce = NonceSource::from_parts([seed as u8; 16], u128::from(seed));
        one.set_nonce_source(nonce.clone());
        many.set_nonce_source(nonce);
        let h = one.header_len();
        for (f, lens) in flushes.iter().enumerate() {
            // Parity budgets change between flushes: 0 sends datagrams outside a group without FEC framing.
            one.set_parity_budget(budgets[f]);
            many.set_parity_budget(budgets[f]);
            let mut flush: Vec<Vec<u8>> = lens
                .iter()
                .enumerate()
                .map(|(i, &l)| [vec![0; h], bytes(l.max(24), seed ^ (f * 64 + i) as u64)].concat())
                .collect();
            let mut want = Vec::new();
            for d in flush.clone().iter_mut() {
                let parity = one.encode(d, f as u32).unwrap();
                let start = parity.data_start();
                let parity: Vec<Vec<u8>> = parity.map(<[u8]>::to_vec).collect();
                want.push((d[start..].to_vec(), true));
                want.extend(parity.into_iter().map(|p| (p, false)));
            }
            let mut got = Vec::new();
            let mut indices = Vec::new();
            many.encode_batch(&mut flush, f as u32, |s| {
                got.push((s.bytes.to_vec(), s.data_index.is_some()));
                indices.extend(s.data_index);
            }).unwrap();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(indices, (0..flush.len()).collect::<Vec<_>>());
            for (i, d) in flush.iter().enumerate() {
                prop_assert!(
                    got.iter().any(|(g, data)| *data && d.ends_with(g) && g.len() + 8 >= d.len()),
                    "datagram {} not sealed in place", i
                );
            }
        }
        prop_assert_eq!(one.stats(), many.stats());
    }

    #[test]
    fn decrypt_equals_cfb_mode(kind in kinds(), len in 0usize..2100, seed in any::<u64>()) {
        let key = derive_key("decrypt");
        let cipher = bytes(len, seed);
        let mut ours = cipher.clone();
        BlockCrypt::new(kind, &key).unwrap().decrypt(&mut ours);
        let mut theirs = cipher.clone();
        if reference_cfb(kind, &key, &mut theirs, false) {
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn encrypt_equals_cfb_mode(kind in kinds(), len in 0usize..2100, seed in any::<u64>()) {
        let key = derive_key("encrypt");
        let plain = bytes(len, seed);
        let mut ours = plain.clone();
        BlockCrypt::new(kind, &key).unwrap().encrypt(&mut ours);
        let mut theirs = plain.clone();
        if reference_cfb(kind, &key, &mut theirs, true) {
            prop_assert_eq!(ours, theirs);
        }
    }
}

#[test]
fn encode_batch_rejects_bad_lengths_without_encoding() {
    let cfg = CodecConfig::kcptun("aes", "pw", 10, 3);
    let mut c = Codec::new(&cfg).unwrap();
    let h = c.header_len();
    let mut flush = vec![vec![0u8; h + 100], vec![0u8; h - 1]];
    let mut calls = 0;
    let r = c.encode_batch(&mut flush, 0, |_| calls += 1);
    assert_eq!(r, Err(kcp::codec::EncodeError::TooShort));
    let mut flush = vec![vec![0u8; h + 100], vec![0u8; 1501]];
    let r = c.encode_batch(&mut flush, 0, |_| calls += 1);
    assert_eq!(r, Err(kcp::codec::EncodeError::TooLong));
    assert_eq!(calls, 0);
    assert_eq!(flush[0], vec![0u8; h + 100]);
    assert_eq!(c.stats().out_pkts, 0);
}

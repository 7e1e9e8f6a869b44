//! The interleaved and in-backend CFB paths are byte-identical to one-datagram-at-a-time CFB: batch encryption
//! against `BlockCrypt::encrypt`, and `BlockCrypt::decrypt` against the `cfb-mode` crate, for random lengths
//! and chain counts (including more chains than lanes, empty and sub-block chains).

use aes::{Aes128, Aes192, Aes256};
use cipher::{InnerIvInit, KeyInit};
use kcp::codec::{BlockCrypt, CryptKind, FIXED_IV, derive_key};
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

/// Reference CFB decryption by the `cfb-mode` crate (AES kinds only).
fn reference_decrypt(kind: CryptKind, key: &[u8; 32], buf: &mut [u8]) -> bool {
    let iv = cipher::array::Array::from(FIXED_IV);
    match kind {
        CryptKind::Aes128 => {
            let c = Aes128::new_from_slice(&key[..16]).unwrap();
            cfb_mode::Decryptor::<Aes128>::inner_iv_init(c, &iv).decrypt(buf);
        }
        CryptKind::Aes192 => {
            let c = Aes192::new_from_slice(&key[..24]).unwrap();
            cfb_mode::Decryptor::<Aes192>::inner_iv_init(c, &iv).decrypt(buf);
        }
        CryptKind::Aes256 => {
            let c = Aes256::new_from_slice(key).unwrap();
            cfb_mode::Decryptor::<Aes256>::inner_iv_init(c, &iv).decrypt(buf);
        }
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
    fn decrypt_equals_cfb_mode(kind in kinds(), len in 0usize..2100, seed in any::<u64>()) {
        let key = derive_key("decrypt");
        let cipher = bytes(len, seed);
        let mut ours = cipher.clone();
        BlockCrypt::new(kind, &key).unwrap().decrypt(&mut ours);
        let mut theirs = cipher.clone();
        if reference_decrypt(kind, &key, &mut theirs) {
            prop_assert_eq!(ours, theirs);
        }
    }
}

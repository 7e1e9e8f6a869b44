//! Known-answer vectors produced by the Go reference (`shared/spec/vectors/`).

use kcp::codec::{BlockCrypt, CryptKind, derive_key, xor_pad};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/spec/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("valid json")
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

#[test]
fn pbkdf2_key_derivation() {
    let v = vectors("pbkdf2.json");
    for case in v["vectors"].as_array().unwrap() {
        let key = derive_key(case["password"].as_str().unwrap());
        assert_eq!(key.to_vec(), hx(&case["key_hex"]), "{}", case["password"]);
    }
}

#[test]
fn xor_pad_matches() {
    let v = vectors("xor_table.json");
    let pad = xor_pad(&hx(&v["key_hex"]));
    assert_eq!(pad.to_vec(), hx(&v["table_hex"]));
}

#[test]
fn every_cipher_encrypts_and_decrypts_like_kcp_go() {
    let v = vectors("crypt.json");
    let full_key = derive_key("it's a secrect");
    let mut seen = std::collections::HashSet::new();
    for case in v["vectors"].as_array().unwrap() {
        let name = case["crypt"].as_str().unwrap();
        let kind = CryptKind::from_kcptun_name(name);
        assert_eq!(kind.kcptun_name(), name);
        // The vector's key is the slice kcptun hands the constructor; ours slices the full key itself.
        let key = hx(&case["key_hex"]);
        assert_eq!(&full_key[..key.len()], &key[..], "{name}: key slice");
        assert_eq!(
            kind.key_len(),
            key.len().max(if kind == CryptKind::None { 32 } else { 0 })
        );
        let crypt = BlockCrypt::new(kind, &full_key).expect("cipher");
        let plain = hx(&case["plaintext_hex"]);
        let want = hx(&case["ciphertext_hex"]);
        let mut buf = plain.clone();
        crypt.encrypt(&mut buf);
        assert_eq!(
            hex::encode(&buf),
            hex::encode(&want),
            "{name} encrypt len {}",
            plain.len()
        );
        crypt.decrypt(&mut buf);
        assert_eq!(buf, plain, "{name} decrypt len {}", plain.len());
        seen.insert(kind);
    }
    // Every kcptun name is covered by the vectors (all kinds except the kcp-go-only Null).
    assert_eq!(seen.len(), CryptKind::ALL.len() - 1);
    assert!(BlockCrypt::new(CryptKind::Null, &full_key).is_none());
}

#[test]
fn crc32_ieee() {
    let v = vectors("crc32.json");
    for case in v["vectors"].as_array().unwrap() {
        let crc = crc32fast::hash(&hx(&case["input_hex"]));
        assert_eq!(crc.to_le_bytes().to_vec(), hx(&case["le_bytes_hex"]));
    }
}

fn shard_rule(d: usize, len: usize) -> Vec<Vec<u8>> {
    (0..d)
        .map(|i| {
            (0..len)
                .map(|j| ((i * 37 + j * 11 + 1) % 256) as u8)
                .collect()
        })
        .collect()
}

#[test]
fn reed_solomon_matrix_and_parity_match_klauspost() {
    use reed_solomon_erasure::galois_8::ReedSolomon;
    let v = vectors("reedsolomon.json");
    for case in v["vectors"].as_array().unwrap() {
        let d = case["data_shards"].as_u64().unwrap() as usize;
        let p = case["parity_shards"].as_u64().unwrap() as usize;
        let rs = ReedSolomon::new(d, p).unwrap();
        let data: Vec<Vec<u8>> = case["data_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(hx)
            .collect();
        assert_eq!(data, shard_rule(d, data[0].len()));
        // Matrix rows: encode unit vectors.
        for (r, row) in case["parity_matrix_rows"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            for (c, want) in row.as_array().unwrap().iter().enumerate() {
                let unit: Vec<Vec<u8>> = (0..d).map(|i| vec![u8::from(i == c)]).collect();
                let mut par = vec![vec![0u8; 1]; p];
                rs.encode_sep(&unit, &mut par).unwrap();
                assert_eq!(
                    u64::from(par[r][0]),
                    want.as_u64().unwrap(),
                    "RS({d},{p}) M[{r}][{c}]"
                );
            }
        }
        let mut parity = vec![vec![0u8; data[0].len()]; p];
        rs.encode_sep(&data, &mut parity).unwrap();
        let want: Vec<Vec<u8>> = case["parity_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(hx)
            .collect();
        assert_eq!(parity, want, "RS({d},{p}) parity");
    }
}

#[test]
fn fec_encoder_output_matches_kcp_go() {
    use kcp::codec::{FecEncoder, FecLimits};
    let v = vectors("fec.json");
    for case in v["vectors"].as_array().unwrap() {
        let d = case["data_shards"].as_u64().unwrap() as usize;
        let p = case["parity_shards"].as_u64().unwrap() as usize;
        let off = case["header_offset"].as_u64().unwrap() as usize;
        let mut enc = FecEncoder::new(d, p, off, &FecLimits::default()).unwrap();
        for pkt in case["packets"].as_array().unwrap() {
            let mut buf = hx(&pkt["input_hex"]);
            let n = enc.encode(&mut buf, 0);
            assert_eq!(hex::encode(&buf), pkt["data_packet_hex"].as_str().unwrap());
            let want: Vec<String> = pkt
                .get("parity_packets_hex")
                .map(|a| {
                    a.as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(n, want.len());
            let got: Vec<String> = enc.parity_packets_mut().map(hex::encode).collect();
            assert_eq!(got, want);
        }
    }
}

#[test]
fn fec_decoder_recoveries_match_kcp_go() {
    use kcp::codec::{FecDecoder, FecLimits};
    let v = vectors("fec.json");
    let first = &v["vectors"][0]["packets"];
    let data = |i: usize| hx(&first[i]["data_packet_hex"]);
    let parity = |r: usize| hx(&first[2]["parity_packets_hex"][r]);
    let checks = v["decoder_checks"].as_array().unwrap();
    let feeds = [
        vec![data(0), data(2), parity(0)],
        vec![data(1), parity(1), parity(0)],
    ];
    for (feed, check) in feeds.iter().zip(checks) {
        let mut dec = FecDecoder::new(3, 2, &FecLimits::default()).unwrap();
        let mut got = Vec::new();
        for pkt in feed {
            dec.decode(pkt, 0);
            got.extend(dec.recovered().iter().map(hex::encode));
        }
        let want: Vec<String> = check["recovered_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{}", check["fed"]);
        assert_eq!(dec.stored(), 0, "a resolved group is freed");
    }
}

#[test]
fn whole_datagrams_match_kcp_go() {
    use kcp::codec::{Codec, CodecConfig};
    let v = vectors("datagram.json");
    let key = derive_key("it's a secrect");
    for case in v["vectors"].as_array().unwrap() {
        let kind = CryptKind::from_kcptun_name(case["crypt"].as_str().unwrap());
        let fec = case["fec"].as_bool().unwrap();
        let cfg = CodecConfig::new(kind, key, if fec { 10 } else { 0 }, if fec { 3 } else { 0 });
        let mut codec = Codec::new(&cfg).unwrap();
        let seg = hx(&case["kcp_segment_hex"]);
        let mut buf = vec![0u8; codec.header_len()];
        buf.extend_from_slice(&seg);
        let nonce: [u8; 16] = hx(&case["nonce_hex"]).try_into().unwrap();
        codec.encode_with_nonce(&mut buf, 0, nonce).unwrap();
        assert_eq!(
            hex::encode(&buf),
            case["wire_datagram_hex"].as_str().unwrap(),
            "{case}"
        );
        let mut rx = Codec::new(&cfg).unwrap();
        let got: Vec<_> = rx
            .decode(&mut buf, 0)
            .map(|p| (p.data.to_vec(), p.recovered))
            .collect();
        assert_eq!(got, vec![(seg.clone(), false)]);
        assert_eq!(
            hex::encode(&buf),
            case["plaintext_datagram_hex"].as_str().unwrap()
        );
    }
}

//! Known answers produced by kcp-go v5.6.1: segment header encodings and the RTT estimator.

use kcp::proto::{Cmd, OVERHEAD, RTO_MIN, RTO_NDL, RttEstimator, SegmentHeader, segments};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/spec/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).expect("valid json")
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("field {k}"))
}

#[test]
fn kcp_segments_encode_and_decode() {
    let doc = load("kcp_segments.json");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 5);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let data = hex::decode(v["data_hex"].as_str().unwrap()).unwrap();
        let want = hex::decode(v["encoded_hex"].as_str().unwrap()).unwrap();
        let h = SegmentHeader {
            conv: u(v, "conv") as u32,
            cmd: Cmd::from_u8(u(v, "cmd") as u8).expect("known cmd"),
            frg: u(v, "frg") as u8,
            wnd: u(v, "wnd") as u16,
            ts: u(v, "ts") as u32,
            sn: u(v, "sn") as u32,
            una: u(v, "una") as u32,
            len: data.len() as u32,
        };
        let mut got = vec![0u8; OVERHEAD];
        h.encode(&mut got);
        got.extend_from_slice(&data);
        assert_eq!(hex::encode(&got), hex::encode(&want), "{name}: encode");

        let segs: Vec<_> = segments(&want).collect::<Result<_, _>>().expect("decodes");
        assert_eq!(segs.len(), 1, "{name}");
        assert_eq!(segs[0].0, h, "{name}: decode");
        assert_eq!(segs[0].1, &data[..], "{name}: payload");
    }
}

#[test]
fn rto_estimator_matches_kcp_go() {
    let doc = load("rto.json");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 3);
    for v in vectors {
        let nodelay = u(v, "nodelay");
        let interval = u(v, "interval") as u32;
        let mut e = RttEstimator {
            min_rto: if nodelay != 0 { RTO_NDL } else { RTO_MIN },
            ..RttEstimator::default()
        };
        let init = &v["initial"];
        assert_eq!(
            (e.srtt as u64, e.rttvar as u64, e.rto as u64),
            (u(init, "srtt"), u(init, "rttvar"), u(init, "rto"))
        );
        let steps = v["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 27);
        for (i, s) in steps.iter().enumerate() {
            e.update(u(s, "rtt") as i32, interval);
            assert_eq!(
                (e.srtt as i64, e.rttvar as i64, e.rto as u64),
                (
                    s["srtt"].as_i64().unwrap(),
                    s["rttvar"].as_i64().unwrap(),
                    u(s, "rto")
                ),
                "nodelay {nodelay} interval {interval} step {i}"
            );
        }
    }
}

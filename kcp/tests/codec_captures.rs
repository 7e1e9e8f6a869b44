//! The two real kcptun captures (`shared/spec/vectors/capture_*.json`) decoded down to smux frames.

use std::collections::BTreeMap;
use std::io::Read;

use kcp::codec::{Codec, CodecConfig, FecEncoder, FecLimits};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/spec/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("valid json")
}

/// A KCP segment as parsed by this test (the proto module owns the real parser).
#[derive(Debug, Clone)]
struct Segment {
    conv: u32,
    cmd: u8,
    sn: u32,
    una: u32,
    data: Vec<u8>,
}

fn u32le(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

fn parse_segments(mut b: &[u8]) -> Vec<Segment> {
    let mut out = Vec::new();
    while b.len() >= 24 {
        let len = u32le(b, 20) as usize;
        assert!(b.len() >= 24 + len, "segment length runs past the datagram");
        assert!((81..=84).contains(&b[4]), "KCP cmd {}", b[4]);
        out.push(Segment {
            conv: u32le(b, 0),
            cmd: b[4],
            sn: u32le(b, 12),
            una: u32le(b, 16),
            data: b[24..24 + len].to_vec(),
        });
        b = &b[24 + len..];
    }
    assert!(b.is_empty(), "trailing bytes after the last segment");
    out
}

/// A smux frame: (version, cmd, sid, payload).
type Frame = (u8, u8, u32, Vec<u8>);

/// Parses complete smux frames from a byte stream (an incomplete tail is ignored: captures are cut short).
fn parse_frames(mut b: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let len = usize::from(u16::from_le_bytes([b[2], b[3]]));
        if b.len() < 8 + len {
            break;
        }
        out.push((b[0], b[1], u32le(b, 4), b[8..8 + len].to_vec()));
        b = &b[8 + len..];
    }
    out
}

struct Decoded {
    /// Per direction: PUSH payloads by sn (duplicates merged).
    streams: BTreeMap<String, BTreeMap<u32, Vec<u8>>>,
    segments: Vec<(String, Segment)>,
}

fn decode_capture(name: &str, cfg: &CodecConfig) -> (Value, Decoded) {
    let v = vectors(name);
    let mut codecs: BTreeMap<String, Codec> = BTreeMap::new();
    let mut out = Decoded {
        streams: BTreeMap::new(),
        segments: Vec::new(),
    };
    for (i, dg) in v["datagrams"].as_array().unwrap().iter().enumerate() {
        let dir = dg["dir"].as_str().unwrap().to_string();
        let mut bytes = hex::decode(dg["hex"].as_str().unwrap()).unwrap();
        let codec = codecs
            .entry(dir.clone())
            .or_insert_with(|| Codec::new(cfg).unwrap());
        let before = *codec.stats();
        let pkts: Vec<_> = codec
            .decode(&mut bytes, 0)
            .map(|p| (p.data.to_vec(), p.recovered))
            .collect();
        let after = *codec.stats();
        assert_eq!(
            after.in_csum_errors, before.in_csum_errors,
            "datagram {i}: checksum"
        );
        assert_eq!(
            after.in_pkts,
            before.in_pkts + 1,
            "datagram {i} reached KCP"
        );
        let parity = after.fec_parity_shards > before.fec_parity_shards;
        assert_eq!(
            pkts.len(),
            usize::from(!parity),
            "datagram {i}: one KCP datagram unless parity"
        );
        for (data, recovered) in pkts {
            assert!(!recovered);
            for seg in parse_segments(&data) {
                if seg.cmd == 81 {
                    out.streams
                        .entry(dir.clone())
                        .or_default()
                        .insert(seg.sn, seg.data.clone());
                }
                out.segments.push((dir.clone(), seg));
            }
        }
    }
    (v, out)
}

fn stream(d: &Decoded, dir: &str) -> Vec<u8> {
    let s = &d.streams[dir];
    // The captures hold a contiguous run of sns from 0.
    assert!(
        s.keys().copied().eq(0..s.len() as u32),
        "{dir}: sns {:?}",
        s.keys().collect::<Vec<_>>()
    );
    s.values().flatten().copied().collect()
}

#[test]
fn capture_none_nocomp_v1_decodes_to_smux_frames() {
    let cfg = CodecConfig::kcptun("none", "it's a secrect", 10, 3);
    let (v, d) = decode_capture("capture_none_nocomp_v1.json", &cfg);
    assert_eq!(v["crypt"], "none");
    let conv = d.segments[0].1.conv;
    assert!(
        d.segments.iter().all(|(_, s)| s.conv == conv),
        "one conversation"
    );
    // The first server datagram acknowledges sn 1 with una 2 (the ACK for sn 0 is filtered).
    let (dir, ack) = d.segments.iter().find(|(dir, _)| dir == "s2c").unwrap();
    assert_eq!((dir.as_str(), ack.cmd, ack.sn, ack.una), ("s2c", 82, 1, 2));

    let c2s = parse_frames(&stream(&d, "c2s"));
    assert_eq!(c2s[0], (1, 0, 3, vec![]), "v1 SYN sid 3");
    assert_eq!(c2s[1], (1, 2, 3, b"hello kcptun".to_vec()), "v1 PSH");
    let bulk: Vec<u8> = c2s[2..]
        .iter()
        .inspect(|f| assert_eq!((f.0, f.1, f.2), (1, 2, 3)))
        .flat_map(|f| f.3.clone())
        .collect();
    assert!(bulk.len() > 4096);
    assert!(
        bulk.iter().enumerate().all(|(i, &b)| b == i as u8),
        "the 51200-byte pattern 00 01 02 ..."
    );
    // The server echoes through its own stream 3.
    let s2c = parse_frames(&stream(&d, "s2c"));
    assert_eq!(s2c[0], (1, 2, 3, b"hello kcptun".to_vec()));
}

#[test]
fn capture_none_group_parity_recomputed() {
    let v = vectors("capture_none_nocomp_v1.json");
    let c2s: Vec<Vec<u8>> = v["datagrams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dir"] == "c2s")
        .map(|d| hex::decode(d["hex"].as_str().unwrap()).unwrap())
        .collect();
    let mut enc = FecEncoder::new(10, 3, 20, &FecLimits::default()).unwrap();
    let mut produced = Vec::new();
    for pkt in c2s.iter().filter(|p| p[24] == 0xf1).take(10) {
        let mut buf = vec![0u8; 28];
        buf.extend_from_slice(&pkt[28..]);
        enc.encode(&mut buf, 0);
        assert_eq!(buf[20..], pkt[20..], "same FEC header");
        produced.extend(enc.parity_packets_mut().map(|p| p[20..].to_vec()));
    }
    let wire: Vec<Vec<u8>> = c2s
        .iter()
        .filter(|p| p[24] == 0xf2)
        .map(|p| p[20..].to_vec())
        .collect();
    assert_eq!(wire.len(), 3);
    assert_eq!(produced, wire);

    // And the receiver rebuilds two lost data packets of that real group from them.
    let cfg = CodecConfig::kcptun("none", "it's a secrect", 10, 3);
    let mut rx = Codec::new(&cfg).unwrap();
    let lost = [3usize, 7];
    let mut rebuilt = Vec::new();
    for (i, pkt) in c2s.iter().enumerate().take(13) {
        if lost.contains(&i) {
            continue;
        }
        let mut b = pkt.clone();
        rebuilt.extend(
            rx.decode(&mut b, 0)
                .filter(|p| p.recovered)
                .map(|p| p.data.to_vec()),
        );
    }
    let want: Vec<Vec<u8>> = lost.iter().map(|&i| c2s[i][28..].to_vec()).collect();
    assert_eq!(rebuilt, want);
    assert_eq!(rx.stats().fec_recovered, 2);
}

#[test]
fn capture_aes_snappy_v2_decodes_to_smux_frames() {
    let cfg = CodecConfig::kcptun("aes", "it's a secrect", 10, 3);
    let (v, d) = decode_capture("capture_aes_snappy_v2.json", &cfg);
    assert_eq!(v["crypt"], "aes");
    let unsnap = |dir: &str| {
        let raw = stream(&d, dir);
        assert_eq!(
            &raw[..10],
            b"\xff\x06\x00\x00sNaPpY",
            "{dir}: snappy stream identifier first"
        );
        let mut out = Vec::new();
        // Frame by frame: the capture ends on a chunk boundary, but read leniently to the end.
        let mut rd = snap::read::FrameDecoder::new(&raw[..]);
        rd.read_to_end(&mut out).expect("valid snappy framing");
        out
    };
    let c2s = parse_frames(&unsnap("c2s"));
    assert_eq!(c2s[0], (2, 0, 3, vec![]), "v2 SYN sid 3");
    assert_eq!(c2s[1], (2, 2, 3, b"hello kcptun".to_vec()));
    let a: Vec<u8> = c2s
        .iter()
        .filter(|f| f.1 == 2)
        .skip(1)
        .flat_map(|f| f.3.clone())
        .collect();
    assert!(
        !a.is_empty() && a.iter().all(|&b| b == b'a'),
        "the 3000 x 'a' payload"
    );
    let s2c = parse_frames(&unsnap("s2c"));
    assert!(s2c.iter().all(|f| f.0 == 2 && f.2 == 3));
    // v2: the reader reports what it consumed with UPD (cmd 4): consumed u32 | window u32.
    let upd = s2c.iter().find(|f| f.1 == 4).expect("an UPD frame");
    assert_eq!(upd.3.len(), 8);
    assert!(s2c.iter().any(|f| f.1 == 2 && f.3 == b"hello kcptun"));
}

//! Known-answer tests: the smux frame vectors and the smux frames inside two real kcptun captures.

use std::collections::BTreeMap;

use bytes::BytesMut;
use serde_json::Value;
use smux::frame::{Decoder, Frame};

fn load(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/spec/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn smux_frames_json_decodes_and_encodes() {
    let v = load("smux_frames.json");
    let mut seen = 0;
    for vec in v["vectors"].as_array().unwrap() {
        let bytes = hex::decode(vec["hex"].as_str().unwrap()).unwrap();
        let name = vec["name"].as_str().unwrap();
        let version = bytes[0];
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = Decoder::new(version, 65535)
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty(), "{name}: whole vector consumed");
        let expected = match name {
            "v1 SYN sid=3" => Frame::Syn { sid: 3 },
            "v1 PSH sid=3 'hello'" => Frame::Psh {
                sid: 3,
                data: bytes::Bytes::from_static(b"hello"),
            },
            "v1 FIN sid=3" => Frame::Fin { sid: 3 },
            "v1 NOP sid=0 (keepalive)" => Frame::Nop { sid: 0 },
            "v2 SYN sid=2 (server-opened)" => Frame::Syn { sid: 2 },
            "v2 UPD sid=3 consumed=1048576 window=2097152" => Frame::Upd {
                sid: 3,
                consumed: 1048576,
                window: 2097152,
            },
            other => panic!("unknown vector {other}"),
        };
        assert_eq!(frame, expected, "{name}");
        let mut out = BytesMut::new();
        frame.encode(version, &mut out);
        assert_eq!(&out[..], &bytes[..], "{name}: re-encoded");
        seen += 1;
    }
    assert_eq!(seen, 6);
}

/// KCP payload bytes of one direction, in sequence-number order (kcp-go envelope: nonce 16, crc 4, FEC 8).
fn kcp_streams(datagrams: &[Vec<u8>], dirs: &[String]) -> BTreeMap<String, Vec<u8>> {
    let mut segs: BTreeMap<String, BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    for (d, dir) in datagrams.iter().zip(dirs) {
        let crc = u32::from_le_bytes(d[16..20].try_into().unwrap());
        assert_eq!(crc32fast::hash(&d[20..]), crc, "datagram CRC");
        let body = &d[20..];
        let flag = u16::from_le_bytes([body[4], body[5]]);
        let mut kcp = match flag {
            0xF1 => &body[8..],
            0xF2 => continue, // parity
            _ => body,
        };
        while kcp.len() >= 24 {
            let cmd = kcp[4];
            let sn = u32::from_le_bytes(kcp[12..16].try_into().unwrap());
            let len = u32::from_le_bytes(kcp[20..24].try_into().unwrap()) as usize;
            let data = &kcp[24..24 + len];
            if cmd == 81 {
                segs.entry(dir.clone())
                    .or_default()
                    .insert(sn, data.to_vec());
            }
            kcp = &kcp[24 + len..];
        }
    }
    segs.into_iter()
        .map(|(dir, m)| {
            // Only the contiguous prefix from sn 0 forms the stream.
            let mut out = Vec::new();
            for (i, (sn, data)) in m.into_iter().enumerate() {
                if sn as usize != i {
                    break;
                }
                out.extend_from_slice(&data);
            }
            (dir, out)
        })
        .collect()
}

fn frames(version: u8, bytes: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(bytes);
    let d = Decoder::new(version, 65535);
    let mut out = Vec::new();
    while let Some(f) = d.decode(&mut buf).unwrap() {
        out.push(f);
    }
    out
}

fn datagrams(v: &Value) -> (Vec<Vec<u8>>, Vec<String>) {
    let arr = v["datagrams"].as_array().unwrap();
    (
        arr.iter()
            .map(|d| hex::decode(d["hex"].as_str().unwrap()).unwrap())
            .collect(),
        arr.iter()
            .map(|d| d["dir"].as_str().unwrap().to_string())
            .collect(),
    )
}

#[test]
fn capture_none_nocomp_v1_smux_frames() {
    let v = load("capture_none_nocomp_v1.json");
    let (dg, dirs) = datagrams(&v);
    let streams = kcp_streams(&dg, &dirs);
    let c2s = frames(1, &streams["c2s"]);
    assert_eq!(c2s[0], Frame::Syn { sid: 3 });
    assert_eq!(
        c2s[1],
        Frame::Psh {
            sid: 3,
            data: bytes::Bytes::from_static(b"hello kcptun")
        }
    );
    // Then the 51200-byte bulk write, split into frames of at most 32768... as far as the capture goes.
    let Frame::Psh { sid: 3, data } = &c2s[2] else {
        panic!("{:?}", c2s[2])
    };
    assert_eq!(data.len(), 4096);
    assert!(
        data.iter().enumerate().all(|(i, b)| *b == i as u8),
        "bulk payload is 00 01 02 ..."
    );
    let s2c = frames(1, &streams["s2c"]);
    assert_eq!(
        s2c,
        vec![Frame::Psh {
            sid: 3,
            data: bytes::Bytes::from_static(b"hello kcptun")
        }]
    );
}

#[test]
fn capture_aes_snappy_v2_smux_frames() {
    use aes::cipher::{AsyncStreamCipher, KeyIvInit};
    let key = hex::decode(
        load("pbkdf2.json")["vectors"][0]["key_hex"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let iv: [u8; 16] = [
        0xa7, 0x73, 0x4f, 0x9c, 0x12, 0xac, 0x1b, 0x01, 0xa4, 0x15, 0xf2, 0xc1, 0xfc, 0x78, 0xe6,
        0x6b,
    ];
    let v = load("capture_aes_snappy_v2.json");
    let (mut dg, dirs) = datagrams(&v);
    for d in &mut dg {
        cfb_mode::Decryptor::<aes::Aes256>::new(key[..].into(), (&iv).into()).decrypt(d);
    }
    let streams = kcp_streams(&dg, &dirs);
    let plain = |dir: &str| {
        let mut out = Vec::new();
        let mut r = snap::read::FrameDecoder::new(&streams[dir][..]);
        // The capture may end inside a chunk: keep what decodes.
        let _ = std::io::Read::read_to_end(&mut r, &mut out);
        out
    };
    let c2s = frames(2, &plain("c2s"));
    assert_eq!(c2s[0], Frame::Syn { sid: 3 });
    assert_eq!(
        c2s[1],
        Frame::Psh {
            sid: 3,
            data: bytes::Bytes::from_static(b"hello kcptun")
        }
    );
    // The client read the 12-byte echo and advertised kcptun's 2 MiB stream buffer.
    assert_eq!(
        c2s[2],
        Frame::Upd {
            sid: 3,
            consumed: 12,
            window: 2097152
        }
    );
    let Frame::Psh { sid: 3, data } = &c2s[3] else {
        panic!("{:?}", c2s[3])
    };
    assert_eq!((data.len(), data.iter().all(|b| *b == b'a')), (3000, true));
    assert_eq!(c2s.len(), 4);
    let s2c = frames(2, &plain("s2c"));
    assert_eq!(
        s2c,
        vec![
            Frame::Upd {
                sid: 3,
                consumed: 12,
                window: 2097152
            },
            Frame::Psh {
                sid: 3,
                data: bytes::Bytes::from_static(b"hello kcptun")
            },
        ]
    );
}

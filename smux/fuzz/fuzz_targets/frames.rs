//! Arbitrary bytes through the smux frame decoder: no panic, `peek` and `decode` agree, every decoded
//! frame re-encodes to the bytes it came from (except the length field of SYN/FIN/NOP/UPD, which smux ignores).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smux::frame::{Decoder, Frame};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let version = 1 + (sel & 1);
    let max = if sel & 2 == 0 { 65535 } else { 4096 };
    let d = Decoder::new(version, max);
    let mut buf = BytesMut::from(rest);
    loop {
        let before = buf.clone();
        let peeked = d.peek(&before);
        match d.decode(&mut buf) {
            Ok(Some(frame)) => {
                let (_, total) = peeked.expect("peek agrees").expect("peek sees the frame");
                assert_eq!(before.len() - buf.len(), total);
                let mut out = BytesMut::new();
                frame.encode(version, &mut out);
                if matches!(frame, Frame::Psh { .. }) {
                    assert_eq!(&out[..], &before[..total]);
                } else {
                    // SYN/FIN/NOP/UPD: smux ignores the length field; everything else round-trips.
                    assert_eq!(out.len(), total);
                    assert_eq!(&out[..2], &before[..2]);
                    assert_eq!(&out[4..], &before[4..total]);
                }
            }
            Ok(None) => {
                assert!(matches!(peeked, Ok(None)));
                assert_eq!(buf.len(), before.len());
                break;
            }
            Err(_) => {
                assert!(peeked.is_err());
                assert_eq!(buf.len(), before.len(), "nothing consumed on error");
                break;
            }
        }
    }
});

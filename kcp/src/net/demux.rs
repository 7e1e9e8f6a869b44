//! Listener demultiplexing as kcp-go does it (`kcp-go-packet.md` section 8): sessions are keyed by
//! remote address; a new session takes its conv from the first datagram; a datagram with another conv
//! and `sn == 0` from a known address replaces the session (the peer reconnected).

use crate::codec::peek_conv_sn;

/// What the listener does with a datagram that passed the crypto layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Hand it to the existing session.
    Deliver,
    /// Close the existing session, then create one with this conv.
    Replace(u32),
    /// No session for the address: create one with this conv.
    Create(u32),
    /// Drop it (foreign conv, or nothing to create a session from).
    Drop,
}

/// Routes a datagram from an address whose current session has conv `existing` (if any).
pub(crate) fn route(plain: &[u8], existing: Option<u32>) -> Route {
    let key = peek_conv_sn(plain);
    match (existing, key) {
        (Some(_), None) => Route::Deliver,
        (Some(conv), Some((c, _))) if c == conv => Route::Deliver,
        (Some(_), Some((c, 0))) => Route::Replace(c),
        (Some(_), Some(_)) => Route::Drop,
        (None, Some((c, _))) => Route::Create(c),
        (None, None) => Route::Drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kcp_seg(conv: u32, sn: u32) -> Vec<u8> {
        let mut b = vec![0u8; 24];
        b[0..4].copy_from_slice(&conv.to_le_bytes());
        b[4] = 81;
        b[12..16].copy_from_slice(&sn.to_le_bytes());
        b
    }

    const FEC_PARITY: u16 = 0x00F2;

    fn fec(flag: u16, body: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b[4..6].copy_from_slice(&flag.to_le_bytes());
        b[6..8].copy_from_slice(&((body.len() + 2) as u16).to_le_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn routes_as_kcp_go() {
        let seg = kcp_seg(5, 4);
        assert_eq!(route(&seg, None), Route::Create(5));
        assert_eq!(route(&seg, Some(5)), Route::Deliver);
        assert_eq!(route(&seg, Some(6)), Route::Drop);
        assert_eq!(route(&kcp_seg(8, 0), Some(6)), Route::Replace(8));
        let parity = fec(FEC_PARITY, &[1; 40]);
        assert_eq!(route(&parity, Some(6)), Route::Deliver);
        assert_eq!(route(&parity, None), Route::Drop);
    }
}

//! Criterion benchmarks of `kcp::codec`, shaped like kcp-go's own (`crypt_test.go`, `fec_test.go`) plus the
//! whole envelope; `benches/compare-codec.sh` runs them side by side with Go and prints the ratios.
//!
//! Names: `crypt/<kcptun name>` (encrypt then decrypt one 1350-byte datagram in place; throughput counts both
//! passes, as kcp-go's `benchCrypt` does), `fec/encode` and `fec/decode` (10/3, 1350-byte packets, kcp-go's
//! loss pattern), `envelope/encode` and `envelope/decode` (aes + FEC 10/3, 1350-byte datagrams; decode loses
//! one data datagram per group so every group is rebuilt).
//!
//! Batch rows (the caller seals a whole flush at once, so CFB chains of different datagrams interleave):
//! `crypt-batch/aes-<N>` (encrypt N 1350-byte datagrams with `encrypt_many`, then decrypt each; counts both
//! passes like `crypt/aes`), `envelope/encode-batch<N>` (aes + FEC 10/3, `Codec::encode_batch` of N
//! datagrams, parity included) and `envelope/encode-nofec` / `envelope/encode-nofec-batch<N>` (aes, FEC off).
//! Envelope rows count 1350 bytes per data datagram, as the Go envelope benchmarks do.
//!
//! Times are CPU time of the benchmark thread ([`benches::CpuTime`]): the machine is shared and
//! oversubscribed, and wall time would mostly measure the scheduler.

use std::hint::black_box;

use benches::CpuTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kcp::codec::{
    BlockCrypt, Codec, CodecConfig, CryptKind, FecDecoder, FecEncoder, FecLimits, TYPE_DATA,
    TYPE_PARITY, derive_key,
};

const DATAGRAM: usize = 1350;

fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn crypt(c: &mut Criterion<CpuTime>) {
    let key = derive_key("it's a secrect");
    let mut g = c.benchmark_group("crypt");
    g.throughput(Throughput::Bytes(2 * DATAGRAM as u64));
    for kind in CryptKind::ALL.into_iter().filter(|k| *k != CryptKind::Null) {
        let bc = BlockCrypt::new(kind, &key).expect("cipher");
        let mut buf = payload(DATAGRAM, 1);
        g.bench_function(kind.kcptun_name(), |b| {
            b.iter(|| {
                bc.encrypt(black_box(&mut buf));
                bc.decrypt(black_box(&mut buf));
            })
        });
    }
    g.finish();
}

/// The two halves of `crypt/aes` alone (`crypt-dir/aes-encrypt`, `crypt-dir/aes-decrypt`): one 1350-byte
/// datagram, throughput counts the one pass. CFB encryption is a serial chain, decryption is parallel.
fn crypt_dir(c: &mut Criterion<CpuTime>) {
    let key = derive_key("it's a secrect");
    let mut g = c.benchmark_group("crypt-dir");
    g.throughput(Throughput::Bytes(DATAGRAM as u64));
    let bc = BlockCrypt::new(CryptKind::Aes256, &key).expect("cipher");
    let mut buf = payload(DATAGRAM, 1);
    g.bench_function("aes-encrypt", |b| {
        b.iter(|| bc.encrypt(black_box(&mut buf)))
    });
    g.bench_function("aes-decrypt", |b| {
        b.iter(|| bc.decrypt(black_box(&mut buf)))
    });
    g.finish();
}

fn fec(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("fec");
    g.throughput(Throughput::Bytes(DATAGRAM as u64));
    let mut enc = FecEncoder::new(10, 3, 0, &FecLimits::default()).unwrap();
    let mut buf = payload(DATAGRAM, 2);
    g.bench_function("encode", |b| {
        b.iter(|| black_box(enc.encode(black_box(&mut buf), 0)))
    });

    // kcp-go's BenchmarkFECDecode: seqid i, flag by position, one packet in 13 lost at random.
    let mut dec = FecDecoder::new(10, 3, &FecLimits::default()).unwrap();
    let mut pkt = payload(DATAGRAM, 3);
    let mut i = 0u32;
    let mut rng = 0x9e37_79b9_u32;
    g.bench_function("decode", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            if rng % 13 == 0 {
                return 0;
            }
            pkt[..4].copy_from_slice(&i.to_le_bytes());
            let flag = if i % 13 >= 10 { TYPE_PARITY } else { TYPE_DATA };
            pkt[4..6].copy_from_slice(&flag.to_le_bytes());
            dec.decode(black_box(&pkt), 0);
            dec.recovered().len()
        })
    });
    g.finish();
}

/// An encoded stream: `groups` FEC groups of aes + 10/3 datagrams, data position 0 of each group lost.
fn encoded_stream(cfg: &CodecConfig, groups: usize) -> Vec<Vec<u8>> {
    let mut tx = Codec::new(cfg).unwrap();
    let h = tx.header_len();
    let mut out = Vec::new();
    for i in 0..groups * 10 {
        let mut b = vec![0u8; h];
        b.extend_from_slice(&payload(DATAGRAM - h, i as u32));
        let parity: Vec<Vec<u8>> = tx.encode(&mut b, 0).unwrap().map(<[u8]>::to_vec).collect();
        if i % 10 != 0 {
            out.push(b);
        }
        out.extend(parity);
    }
    out
}

fn envelope(c: &mut Criterion<CpuTime>) {
    let cfg = CodecConfig::kcptun("aes", "it's a secrect", 10, 3);
    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Bytes(DATAGRAM as u64));
    let mut tx = Codec::new(&cfg).unwrap();
    let mut buf = payload(DATAGRAM, 4);
    g.bench_function("encode", |b| {
        b.iter(|| {
            let parity = tx.encode(black_box(&mut buf), 0).unwrap();
            parity.map(|p| black_box(p).len()).sum::<usize>()
        })
    });

    let stream = encoded_stream(&cfg, 1000);
    let mut rx = Codec::new(&cfg).unwrap();
    let mut work = vec![0u8; DATAGRAM];
    let mut at = 0;
    g.bench_function("decode", |b| {
        b.iter(|| {
            if at == stream.len() {
                // Replaying would only hit the duplicate check: start a fresh receiver.
                at = 0;
                rx = Codec::new(&cfg).unwrap();
            }
            let dg = &stream[at];
            at += 1;
            let w = &mut work[..dg.len()];
            w.copy_from_slice(dg);
            rx.decode(w, 0)
                .map(|p| black_box(p.data).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn crypt_batch(c: &mut Criterion<CpuTime>) {
    let key = derive_key("it's a secrect");
    let mut g = c.benchmark_group("crypt-batch");
    let bc = BlockCrypt::new(CryptKind::Aes256, &key).expect("cipher");
    for n in [10usize, 32] {
        let mut bufs: Vec<Vec<u8>> = (0..n).map(|i| payload(DATAGRAM, i as u32)).collect();
        g.throughput(Throughput::Bytes((2 * n * DATAGRAM) as u64));
        g.bench_function(format!("aes-{n}"), |b| {
            b.iter(|| {
                bc.encrypt_many(black_box(&mut bufs).iter_mut().map(Vec::as_mut_slice));
                for buf in &mut bufs {
                    bc.decrypt(black_box(buf));
                }
            })
        });
    }
    g.finish();
}

fn envelope_batch(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("envelope");
    for (fec, name) in [((10, 3), "encode-batch"), ((0, 0), "encode-nofec-batch")] {
        let cfg = CodecConfig::kcptun("aes", "it's a secrect", fec.0, fec.1);
        for n in [10usize, 32] {
            let mut tx = Codec::new(&cfg).unwrap();
            let mut flush: Vec<Vec<u8>> = (0..n).map(|i| payload(DATAGRAM, i as u32)).collect();
            g.throughput(Throughput::Bytes((n * DATAGRAM) as u64));
            g.bench_function(format!("{name}{n}"), |b| {
                b.iter(|| {
                    let mut sent = 0;
                    tx.encode_batch(black_box(&mut flush), 0, |s| {
                        sent += black_box(s.bytes).len()
                    })
                    .unwrap();
                    sent
                })
            });
        }
    }
    let cfg = CodecConfig::kcptun("aes", "it's a secrect", 0, 0);
    let mut tx = Codec::new(&cfg).unwrap();
    let mut buf = payload(DATAGRAM, 5);
    g.throughput(Throughput::Bytes(DATAGRAM as u64));
    g.bench_function("encode-nofec", |b| {
        b.iter(|| tx.encode(black_box(&mut buf), 0).unwrap().count())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(benches::CpuTime);
    targets = crypt, crypt_dir, fec, envelope, crypt_batch, envelope_batch
}
criterion_main!(benches);

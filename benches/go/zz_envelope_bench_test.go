package kcp

// Benchmarks of kcp-go's whole datagram envelope, added next to kcp-go's own benchmarks by
// benches/compare-codec.sh (run in a temporary copy of the Debian package sources; never installed).
// They follow UDPSession.output (FEC encode, then nonce + CRC32 + encrypt of the data and parity
// datagrams) and UDPSession.packetInput/kcpInput (decrypt, CRC32 check, FEC decode), without the KCP core
// and the socket. Sizes match the Rust side: 1350-byte datagrams, AES-256, FEC 10/3.

import (
	"crypto/sha1"
	"encoding/binary"
	"hash/crc32"
	"math/rand"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/pbkdf2"
)

var pass = pbkdf2.Key([]byte("it's a secrect"), []byte("kcp-go"), 4096, 32, sha1.New)

const envDatagram = 1350

type envSender struct {
	block BlockCrypt
	enc   *fecEncoder
	nonce nonceAES128
}

func newEnvSender() *envSender {
	block, _ := NewAESBlockCrypt(pass)
	s := &envSender{block: block, enc: newFECEncoder(10, 3, cryptHeaderSize)}
	s.nonce.Init()
	return s
}

func (s *envSender) seal(b []byte) {
	s.nonce.Fill(b[:nonceSize])
	binary.LittleEndian.PutUint32(b[nonceSize:], crc32.ChecksumIEEE(b[cryptHeaderSize:]))
	s.block.Encrypt(b, b)
}

// output mirrors UDPSession.output without the tx queue.
func (s *envSender) output(buf []byte) int {
	ecc := s.enc.encode(buf)
	s.seal(buf)
	n := 0
	for k := range ecc {
		s.seal(ecc[k])
		n += len(ecc[k])
	}
	return n
}

func BenchmarkEnvelopeEncode(b *testing.B) {
	s := newEnvSender()
	buf := make([]byte, envDatagram)
	rand.Read(buf)
	b.SetBytes(envDatagram)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.output(buf)
	}
}

// BenchmarkEnvelopeEncodeNoFEC: UDPSession.output with aes and FEC off (nonce, CRC32, encrypt).
func BenchmarkEnvelopeEncodeNoFEC(b *testing.B) {
	s := newEnvSender()
	buf := make([]byte, envDatagram)
	rand.Read(buf)
	b.SetBytes(envDatagram)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.seal(buf)
	}
}

// envStream encodes groups*10 datagrams and drops data position 0 of each group.
func envStream(groups int) [][]byte {
	s := newEnvSender()
	var out [][]byte
	for i := 0; i < groups*10; i++ {
		buf := make([]byte, envDatagram)
		rand.Read(buf[cryptHeaderSize+fecHeaderSizePlus2:])
		ecc := s.enc.encode(buf)
		s.seal(buf)
		if i%10 != 0 {
			out = append(out, buf)
		}
		for k := range ecc {
			s.seal(ecc[k])
			out = append(out, append([]byte(nil), ecc[k]...))
		}
	}
	return out
}

var (
	envStreamOnce sync.Once
	envStreamData [][]byte
)

func BenchmarkEnvelopeDecode(b *testing.B) {
	// Built once, so that the CPU-time wrapper below does not count it.
	envStreamOnce.Do(func() { envStreamData = envStream(1000) })
	stream := envStreamData
	block, _ := NewAESBlockCrypt(pass)
	dec := newFECDecoder(10, 3)
	work := make([]byte, mtuLimit)
	at := 0
	sink := 0
	b.SetBytes(envDatagram)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if at == len(stream) {
			at = 0
			dec = newFECDecoder(10, 3)
		}
		dg := stream[at]
		at++
		data := work[:len(dg)]
		copy(data, dg)
		// packetInput
		block.Decrypt(data, data)
		data = data[nonceSize:]
		if crc32.ChecksumIEEE(data[crcSize:]) != binary.LittleEndian.Uint32(data) {
			b.Fatal("checksum")
		}
		data = data[crcSize:]
		// kcpInput, FEC part
		f := fecPacket(data)
		recovers := dec.decode(f)
		if f.flag() == typeData {
			sink += len(data[fecHeaderSizePlus2:])
		}
		for _, r := range recovers {
			sz := binary.LittleEndian.Uint16(r)
			if int(sz) <= len(r) && sz >= 2 {
				sink += len(r[2:sz])
			}
			xmitBuf.Put(r)
		}
	}
	_ = sink
}

// threadCPU is the CPU time (user + system) of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuBench runs one of kcp-go's benchmarks (unchanged) on a locked OS thread and reports its throughput per
// CPU second of that thread ("cpuMB/s"): on a shared, oversubscribed machine wall time mostly measures the
// scheduler. The Rust side measures the same way (benches::CpuTime).
func cpuBench(b *testing.B, bytesPerOp int, bench func(*testing.B)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	bench(b)
	if cpu := threadCPU() - start; cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/cpu.Seconds()/1e6, "cpuMB/s")
	}
}

func BenchmarkCPU_AES128(b *testing.B)         { cpuBench(b, 2*mtuLimit, BenchmarkAES128) }
func BenchmarkCPU_AES192(b *testing.B)         { cpuBench(b, 2*mtuLimit, BenchmarkAES192) }
func BenchmarkCPU_AES256(b *testing.B)         { cpuBench(b, 2*mtuLimit, BenchmarkAES256) }
func BenchmarkCPU_Salsa20(b *testing.B)        { cpuBench(b, 2*mtuLimit, BenchmarkSalsa20) }
func BenchmarkCPU_None(b *testing.B)           { cpuBench(b, 2*mtuLimit, BenchmarkNone) }
func BenchmarkCPU_Blowfish(b *testing.B)       { cpuBench(b, 2*mtuLimit, BenchmarkBlowfish) }
func BenchmarkCPU_Twofish(b *testing.B)        { cpuBench(b, 2*mtuLimit, BenchmarkTwofish) }
func BenchmarkCPU_Cast5(b *testing.B)          { cpuBench(b, 2*mtuLimit, BenchmarkCast5) }
func BenchmarkCPU_3DES(b *testing.B)           { cpuBench(b, 2*mtuLimit, Benchmark3DES) }
func BenchmarkCPU_TEA(b *testing.B)            { cpuBench(b, 2*mtuLimit, BenchmarkTEA) }
func BenchmarkCPU_XTEA(b *testing.B)           { cpuBench(b, 2*mtuLimit, BenchmarkXTEA) }
func BenchmarkCPU_XOR(b *testing.B)            { cpuBench(b, 2*mtuLimit, BenchmarkXOR) }
func BenchmarkCPU_SM4(b *testing.B)            { cpuBench(b, 2*mtuLimit, BenchmarkSM4) }
func BenchmarkCPU_FECEncode(b *testing.B)      { cpuBench(b, 1500, BenchmarkFECEncode) }
func BenchmarkCPU_FECDecode(b *testing.B)      { cpuBench(b, 1500, BenchmarkFECDecode) }
func BenchmarkCPU_EnvelopeEncode(b *testing.B) { cpuBench(b, envDatagram, BenchmarkEnvelopeEncode) }
func BenchmarkCPU_EnvelopeDecode(b *testing.B) { cpuBench(b, envDatagram, BenchmarkEnvelopeDecode) }
func BenchmarkCPU_EnvelopeEncodeNoFEC(b *testing.B) {
	cpuBench(b, envDatagram, BenchmarkEnvelopeEncodeNoFEC)
}

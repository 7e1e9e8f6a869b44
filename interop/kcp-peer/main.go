// kcp-peer: a kcp-go v5.6.1 peer for interop tests and side-by-side benchmarks.
//
// Server roles (print "LISTEN <addr>" once bound, serve until killed):
//
//	-role echo    echo every session's bytes back
//	-role sink    count bytes of the first session for -duration seconds from its first byte,
//	              then print "RESULT <bytes> <seconds> <own cpu seconds>" and exit
//	-role hold    accept -sessions sessions, keep them open, then print "READY <n> <rss KiB>";
//	              prints "BASE <rss KiB>" after binding
//
// Client roles (-addr is the server):
//
//	-role source    write as fast as possible until killed
//	-role echocheck write -bytes of seeded pseudo-random data, read them back, compare;
//	                print "OK <bytes> <crc32>" or exit 1
//	-role pingpong  -size byte round trips for -duration seconds;
//	                print "RESULT <count> <seconds> <p50_us> <p99_us>"
//
// Session knobs: -crypt none|null|aes (null = no crypto header at all), -key hex (32 bytes for aes),
// -ds/-ps FEC shards, -mode normal|fast|fast2|fast3, -sndwnd/-rcvwnd, -mtu, -acknodelay, -sockbuf.
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	kcp "github.com/xtaci/kcp-go"
)

var (
	role       = flag.String("role", "echo", "echo|sink|source|echocheck|pingpong")
	addr       = flag.String("addr", "127.0.0.1:0", "listen (server) or remote (client) address")
	cryptName  = flag.String("crypt", "none", "none|null|aes")
	keyHex     = flag.String("key", "", "hex key (32 bytes for aes); default: 32 x 0x42")
	ds         = flag.Int("ds", 0, "FEC data shards")
	ps         = flag.Int("ps", 0, "FEC parity shards")
	mode       = flag.String("mode", "fast", "normal|fast|fast2|fast3")
	sndwnd     = flag.Int("sndwnd", 1024, "send window")
	rcvwnd     = flag.Int("rcvwnd", 1024, "receive window")
	mtu        = flag.Int("mtu", 1350, "MTU")
	ackNoDelay = flag.Bool("acknodelay", false, "ack without delay")
	sockbuf    = flag.Int("sockbuf", 4194304, "socket buffer bytes")
	nbytes     = flag.Int64("bytes", 10<<20, "bytes for echocheck")
	duration   = flag.Float64("duration", 10, "seconds for sink/pingpong")
	size       = flag.Int("size", 64, "message size for pingpong")
	seed       = flag.Uint64("seed", 1, "data seed for echocheck")
	sessions   = flag.Int("sessions", 10000, "sessions for hold")
)

func block() kcp.BlockCrypt {
	key := make([]byte, 32)
	for i := range key {
		key[i] = 0x42
	}
	if *keyHex != "" {
		k, err := hex.DecodeString(*keyHex)
		if err != nil {
			fail("bad key: %v", err)
		}
		key = k
	}
	switch *cryptName {
	case "null":
		return nil
	case "none":
		b, _ := kcp.NewNoneBlockCrypt(key)
		return b
	case "aes":
		b, err := kcp.NewAESBlockCrypt(key)
		if err != nil {
			fail("aes: %v", err)
		}
		return b
	}
	fail("unknown crypt %q", *cryptName)
	return nil
}

func configure(s *kcp.UDPSession) {
	switch *mode {
	case "normal":
		s.SetNoDelay(0, 40, 2, 1)
	case "fast":
		s.SetNoDelay(0, 30, 2, 1)
	case "fast2":
		s.SetNoDelay(1, 20, 2, 1)
	case "fast3":
		s.SetNoDelay(1, 10, 2, 1)
	default:
		fail("unknown mode %q", *mode)
	}
	s.SetStreamMode(true)
	s.SetWriteDelay(false)
	s.SetWindowSize(*sndwnd, *rcvwnd)
	s.SetMtu(*mtu)
	s.SetACKNoDelay(*ackNoDelay)
}

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "kcp-peer: "+f+"\n", a...)
	os.Exit(1)
}

// xorshift64* stream, same generator as the Rust tests use.
type rng struct{ s uint64 }

func (r *rng) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		r.s ^= r.s >> 12
		r.s ^= r.s << 25
		r.s ^= r.s >> 27
		v := r.s * 2685821657736338717
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

func main() {
	flag.Parse()
	switch *role {
	case "echo", "sink", "hold":
		server()
	case "source", "echocheck", "pingpong":
		client()
	default:
		fail("unknown role %q", *role)
	}
}

func server() {
	l, err := kcp.ListenWithOptions(*addr, block(), *ds, *ps)
	if err != nil {
		fail("listen: %v", err)
	}
	l.SetReadBuffer(*sockbuf)
	l.SetWriteBuffer(*sockbuf)
	fmt.Printf("LISTEN %s\n", l.Addr())
	var heldMu sync.Mutex
	var held []*kcp.UDPSession
	if *role == "hold" {
		runtime.GC()
		fmt.Printf("BASE %d\n", rssKiB())
		// Progress every 3 s, so a caller can stop waiting when sessions stop arriving.
		go func() {
			for range time.Tick(3 * time.Second) {
				heldMu.Lock()
				n := len(held)
				heldMu.Unlock()
				fmt.Printf("PROGRESS %d %d\n", n, rssKiB())
				os.Stdout.Sync()
			}
		}()
	}
	os.Stdout.Sync()
	for {
		s, err := l.AcceptKCP()
		if err != nil {
			fail("accept: %v", err)
		}
		configure(s)
		if *role == "hold" {
			heldMu.Lock()
			held = append(held, s)
			n := len(held)
			heldMu.Unlock()
			if n == *sessions {
				runtime.GC()
				fmt.Printf("READY %d %d\n", n, rssKiB())
				os.Stdout.Sync()
			}
			continue
		}
		if *role == "echo" {
			go func() {
				io.Copy(s, s)
				s.Close()
			}()
		} else {
			sink(s)
			return
		}
	}
}

func sink(s *kcp.UDPSession) {
	buf := make([]byte, 65536)
	n, err := s.Read(buf)
	if err != nil {
		fail("read: %v", err)
	}
	start := time.Now()
	total := int64(n)
	end := start.Add(time.Duration(*duration * float64(time.Second)))
	s.SetReadDeadline(end)
	for {
		n, err := s.Read(buf)
		total += int64(n)
		if err != nil {
			break
		}
	}
	secs := time.Since(start).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	fmt.Printf("RESULT %d %.3f %.3f\n", total, secs, cpu)
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var v int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &v)
			return v
		}
	}
	return 0
}

func client() {
	s, err := kcp.DialWithOptions(*addr, block(), *ds, *ps)
	if err != nil {
		fail("dial: %v", err)
	}
	s.SetReadBuffer(*sockbuf)
	s.SetWriteBuffer(*sockbuf)
	configure(s)
	switch *role {
	case "source":
		buf := make([]byte, 65536)
		(&rng{*seed | 1}).fill(buf)
		for {
			if _, err := s.Write(buf); err != nil {
				fail("write: %v", err)
			}
		}
	case "echocheck":
		echocheck(s)
	case "pingpong":
		pingpong(s)
	}
}

func echocheck(s *kcp.UDPSession) {
	var wg sync.WaitGroup
	wg.Add(1)
	sent := crc32.NewIEEE()
	go func() {
		defer wg.Done()
		r := rng{*seed | 1}
		buf := make([]byte, 32768)
		for left := *nbytes; left > 0; {
			n := int64(len(buf))
			if n > left {
				n = left
			}
			r.fill(buf[:n])
			sent.Write(buf[:n])
			if _, err := s.Write(buf[:n]); err != nil {
				fail("write: %v", err)
			}
			left -= n
		}
	}()
	got := crc32.NewIEEE()
	s.SetReadDeadline(time.Now().Add(120 * time.Second))
	if _, err := io.CopyN(got, bufio.NewReader(s), *nbytes); err != nil {
		fail("read: %v", err)
	}
	wg.Wait()
	if sent.Sum32() != got.Sum32() {
		fail("checksum mismatch: sent %08x got %08x", sent.Sum32(), got.Sum32())
	}
	fmt.Printf("OK %d %08x\n", *nbytes, got.Sum32())
}

func pingpong(s *kcp.UDPSession) {
	msg := make([]byte, *size)
	in := make([]byte, *size)
	(&rng{*seed | 1}).fill(msg)
	var lat []time.Duration
	// Warm up so both ends have configured themselves.
	for i := 0; i < 100; i++ {
		s.Write(msg)
		io.ReadFull(s, in)
	}
	start := time.Now()
	end := start.Add(time.Duration(*duration * float64(time.Second)))
	for time.Now().Before(end) {
		t := time.Now()
		if _, err := s.Write(msg); err != nil {
			fail("write: %v", err)
		}
		if _, err := io.ReadFull(s, in); err != nil {
			fail("read: %v", err)
		}
		lat = append(lat, time.Since(t))
	}
	secs := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1000 }
	fmt.Printf("RESULT %d %.3f %.1f %.1f\n", len(lat), secs, p(0.5), p(0.99))
}

var _ = net.IPv4len

// smux-peer: xtaci/smux v1.5.16 (Debian golang-github-xtaci-smux-dev) as an interop and benchmark peer
// for the Rust smux crate. Built offline in GOPATH mode by interop/smux-peer/peer.rs.
//
// Stream protocol (the opener writes a 9-byte request: cmd byte + u64 LE length n):
//
//	'E' echo:  the server copies n bytes back as they arrive, then closes (FIN).
//	'S' sink:  the server reads n bytes, replies with their CRC-32 (4 bytes LE), reads to EOF, closes.
//	'G' gen:   the server writes n bytes of pattern(n), closes (FIN first); a Go server then ignores the
//	           client's 4-byte CRC reply (smux v1.5.16 has no half-close), a Rust server checks it.
//
// pattern byte i of a stream with seed s = (i*31 + s*7 + i>>9) % 251.
//
// Modes:
//
//	smux-peer server -ver V            listen on 127.0.0.1:0, print "LISTEN addr", serve until stdin closes
//	smux-peer client -ver V -addr A -streams K -size N
//	                                    run K concurrent streams (E, S, G in turn) against A; print "OK"
//	smux-peer bench -ver V -work a|b|c|d -bytes N -secs S -loops L
//	                                    client and server in this process over TCP loopback; print "RESULT x"
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/xtaci/smux"
)

func pattern(seed uint64, off uint64, buf []byte) {
	for j := range buf {
		i := off + uint64(j)
		buf[j] = byte((i*31 + seed*7 + (i >> 9)) % 251)
	}
}

func config(ver int) *smux.Config {
	c := smux.DefaultConfig()
	c.Version = ver
	return c
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "smux-peer: "+format+"\n", a...)
	os.Exit(1)
}

// ---------------------------------------------------------------- server

func serveStream(s *smux.Stream) {
	defer s.Close()
	var req [9]byte
	if _, err := io.ReadFull(s, req[:]); err != nil {
		fmt.Fprintf(os.Stderr, "stream %d: request: %v\n", s.ID(), err)
		return
	}
	n := binary.LittleEndian.Uint64(req[1:])
	switch req[0] {
	case 'E':
		if _, err := io.CopyN(s, s, int64(n)); err != nil {
			fmt.Fprintf(os.Stderr, "stream %d: echo: %v\n", s.ID(), err)
		}
	case 'S':
		h := crc32.NewIEEE()
		if _, err := io.CopyN(h, s, int64(n)); err != nil {
			fmt.Fprintf(os.Stderr, "stream %d: sink: %v\n", s.ID(), err)
			return
		}
		var out [4]byte
		binary.LittleEndian.PutUint32(out[:], h.Sum32())
		if _, err := s.Write(out[:]); err != nil {
			fmt.Fprintf(os.Stderr, "stream %d: sink reply: %v\n", s.ID(), err)
			return
		}
		io.Copy(io.Discard, s) // until the client's FIN (smux's WriteTo reports it as io.EOF)
	case 'G':
		buf := make([]byte, 32768)
		for off := uint64(0); off < n; {
			k := n - off
			if k > uint64(len(buf)) {
				k = uint64(len(buf))
			}
			pattern(n, off, buf[:k])
			if _, err := s.Write(buf[:k]); err != nil {
				fmt.Fprintf(os.Stderr, "stream %d: gen: %v\n", s.ID(), err)
				return
			}
			off += k
		}
	default:
		fmt.Fprintf(os.Stderr, "stream %d: bad request %q\n", s.ID(), req[0])
	}
}

func serveSession(conn net.Conn, ver int) {
	sess, err := smux.Server(conn, config(ver))
	if err != nil {
		fail("server session: %v", err)
	}
	for {
		s, err := sess.AcceptStream()
		if err != nil {
			return
		}
		go serveStream(s)
	}
}

func runServer(ver int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("LISTEN %s\n", l.Addr())
	os.Stdout.Sync()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		go serveSession(c, ver)
	}
}

// ---------------------------------------------------------------- client

func request(s *smux.Stream, cmd byte, n uint64) error {
	var req [9]byte
	req[0] = cmd
	binary.LittleEndian.PutUint64(req[1:], n)
	_, err := s.Write(req[:])
	return err
}

func writePattern(w io.Writer, seed, n uint64) (uint32, error) {
	h := crc32.NewIEEE()
	buf := make([]byte, 32768)
	for off := uint64(0); off < n; {
		k := n - off
		if k > uint64(len(buf)) {
			k = uint64(len(buf))
		}
		pattern(seed, off, buf[:k])
		h.Write(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return 0, err
		}
		off += k
	}
	return h.Sum32(), nil
}

func clientStream(sess *smux.Session, i int, size uint64) error {
	s, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer s.Close()
	n := size + uint64(i)*1237
	seed := uint64(i)
	switch i % 3 {
	case 0: // echo: write and read concurrently
		if err := request(s, 'E', n); err != nil {
			return err
		}
		sent := make(chan uint32, 1)
		werr := make(chan error, 1)
		go func() {
			c, err := writePattern(s, seed, n)
			sent <- c
			werr <- err
		}()
		h := crc32.NewIEEE()
		if _, err := io.CopyN(h, s, int64(n)); err != nil {
			return fmt.Errorf("echo read: %w", err)
		}
		if err := <-werr; err != nil {
			return fmt.Errorf("echo write: %w", err)
		}
		if c := <-sent; c != h.Sum32() {
			return fmt.Errorf("echo crc %08x != %08x", h.Sum32(), c)
		}
		var b [1]byte
		if _, err := s.Read(b[:]); err != io.EOF {
			return fmt.Errorf("echo: want EOF after data, got %v", err)
		}
	case 1: // sink
		if err := request(s, 'S', n); err != nil {
			return err
		}
		c, err := writePattern(s, seed, n)
		if err != nil {
			return err
		}
		var out [4]byte
		if _, err := io.ReadFull(s, out[:]); err != nil {
			return fmt.Errorf("sink reply: %w", err)
		}
		if got := binary.LittleEndian.Uint32(out[:]); got != c {
			return fmt.Errorf("sink crc %08x != %08x", got, c)
		}
	case 2: // gen: read to EOF (the server finishes first), then reply with the CRC
		if err := request(s, 'G', n); err != nil {
			return err
		}
		h := crc32.NewIEEE()
		got, err := io.Copy(h, s)
		if err != nil && err != io.EOF {
			return fmt.Errorf("gen read: %w", err)
		}
		if uint64(got) != n {
			return fmt.Errorf("gen: %d bytes, want %d", got, n)
		}
		want := crc32.NewIEEE()
		buf := make([]byte, n)
		pattern(n, 0, buf)
		want.Write(buf)
		if h.Sum32() != want.Sum32() {
			return fmt.Errorf("gen crc %08x != %08x", h.Sum32(), want.Sum32())
		}
		var out [4]byte
		binary.LittleEndian.PutUint32(out[:], h.Sum32())
		if _, err := s.Write(out[:]); err != nil {
			return fmt.Errorf("gen reply: %w", err)
		}
		// Wait until the reply is surely written before Close (smux Write returns once the frame is out).
	}
	return nil
}

func runClient(ver int, addr string, streams int, size uint64) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fail("dial: %v", err)
	}
	sess, err := smux.Client(conn, config(ver))
	if err != nil {
		fail("client session: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := clientStream(sess, i, size); err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	bad := false
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		bad = true
	}
	if bad {
		os.Exit(1)
	}
	sess.Close()
	fmt.Println("OK")
}

// ---------------------------------------------------------------- bench

func benchPair(ver int) (*smux.Session, *smux.Session) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		ch <- c
	}()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fail("dial: %v", err)
	}
	sc := <-ch
	cs, err := smux.Client(cc, config(ver))
	if err != nil {
		fail("%v", err)
	}
	ss, err := smux.Server(sc, config(ver))
	if err != nil {
		fail("%v", err)
	}
	return cs, ss
}

// bulk moves total bytes over `streams` streams in 32 KiB writes; returns bytes per second.
func bulk(ver int, streams int, total int64) float64 {
	cs, ss := benchPair(ver)
	defer cs.Close()
	defer ss.Close()
	per := total / int64(streams)
	done := make(chan error, streams)
	go func() {
		for i := 0; i < streams; i++ {
			s, err := ss.AcceptStream()
			if err != nil {
				done <- err
				return
			}
			go func(s *smux.Stream) {
				// Read into a 64 KiB buffer like the Rust readers of smux_compare (io.Copy would take
				// smux's WriteTo path, which hands frame buffers over without the copy they make).
				buf := make([]byte, 64*1024)
				var n int64
				var err error
				for {
					k, rerr := s.Read(buf)
					n += int64(k)
					if rerr != nil {
						if rerr != io.EOF {
							err = rerr
						}
						break
					}
				}
				if err == nil && n != per {
					err = fmt.Errorf("got %d bytes, want %d", n, per)
				}
				done <- err
				s.Close()
			}(s)
		}
	}()
	start := time.Now()
	buf := make([]byte, 32768)
	for i := 0; i < streams; i++ {
		s, err := cs.OpenStream()
		if err != nil {
			fail("open: %v", err)
		}
		go func(s *smux.Stream) {
			for sent := int64(0); sent < per; sent += int64(len(buf)) {
				if _, err := s.Write(buf); err != nil {
					fail("write: %v", err)
				}
			}
			s.Close()
		}(s)
	}
	for i := 0; i < streams; i++ {
		if err := <-done; err != nil {
			fail("bulk: %v", err)
		}
	}
	return float64(per*int64(streams)) / time.Since(start).Seconds()
}

// openEcho opens a stream, echoes 8 bytes and closes it, as often as possible for secs, in `loops`
// concurrent goroutines each doing it sequentially; returns streams per second.
func openEcho(ver int, secs float64, loops int) float64 {
	cs, ss := benchPair(ver)
	defer cs.Close()
	defer ss.Close()
	go func() {
		for {
			s, err := ss.AcceptStream()
			if err != nil {
				return
			}
			go func(s *smux.Stream) {
				var b [8]byte
				if _, err := io.ReadFull(s, b[:]); err == nil {
					s.Write(b[:])
				}
				s.Close()
			}(s)
		}
	}()
	start := time.Now()
	deadline := start.Add(time.Duration(secs * float64(time.Second)))
	counts := make(chan int, loops)
	for i := 0; i < loops; i++ {
		go func() {
			b := [8]byte{'8', ' ', 'b', 'y', 't', 'e', 's', '!'}
			count := 0
			for time.Now().Before(deadline) {
				s, err := cs.OpenStream()
				if err != nil {
					fail("open: %v", err)
				}
				if _, err := s.Write(b[:]); err != nil {
					fail("write: %v", err)
				}
				if _, err := io.ReadFull(s, b[:]); err != nil {
					fail("read: %v", err)
				}
				if string(b[:]) != "8 bytes!" {
					fail("echo: %q", b[:])
				}
				s.Close()
				count++
			}
			counts <- count
		}()
	}
	total := 0
	for i := 0; i < loops; i++ {
		total += <-counts
	}
	return float64(total) / time.Since(start).Seconds()
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: smux-peer server|client|bench [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	ver := fs.Int("ver", 1, "smux version")
	addr := fs.String("addr", "", "server address (client)")
	streams := fs.Int("streams", 16, "concurrent streams (client)")
	size := fs.Uint64("size", 1<<20, "bytes per stream (client)")
	work := fs.String("work", "a", "bench workload a|b|c")
	total := fs.Int64("bytes", 1<<30, "bench bytes for a and b")
	secs := fs.Float64("secs", 2, "bench seconds for c and d")
	loops := fs.Int("loops", 32, "bench concurrent loops for d")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "server":
		runServer(*ver)
	case "client":
		runClient(*ver, *addr, *streams, *size)
	case "bench":
		var r float64
		switch *work {
		case "a":
			r = bulk(*ver, 1, *total)
		case "b":
			r = bulk(*ver, 8, *total)
		case "c":
			r = openEcho(*ver, *secs, 1)
		case "d":
			r = openEcho(*ver, *secs, *loops)
		default:
			fail("unknown workload %q", *work)
		}
		fmt.Printf("RESULT %f\n", r)
	default:
		fail("unknown mode %q", os.Args[1])
	}
}

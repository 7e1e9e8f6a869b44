// Command transfer moves 256 MiB between two in-memory kcp-go v5.6.1 KCPs without loss (NoDelay(1,10,2,1),
// windows 1024, mss-sized writes as a kcp-go session makes them) and prints payload MB/s and ns per segment:
// the reference side of the Rust `transfer/256MiB/loss0` benchmark. Flushes are driven by input (window slides
// and ack-no-delay), so the run is CPU-bound, not paced by kcp-go's real-time interval.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	kcp "github.com/xtaci/kcp-go"
)

type wire struct {
	queue [][]byte
	pool  [][]byte
}

func (w *wire) push(buf []byte, size int) {
	var b []byte
	if n := len(w.pool); n > 0 {
		b, w.pool = w.pool[n-1][:0], w.pool[:n-1]
	}
	w.queue = append(w.queue, append(b, buf[:size]...))
}

func (w *wire) deliver(to *kcp.KCP, ackNoDelay bool) {
	q := w.queue
	w.queue = nil
	for _, b := range q {
		to.Input(b, true, ackNoDelay)
		w.pool = append(w.pool, b)
	}
}

func run(total int) time.Duration {
	var ab, ba wire
	a := kcp.NewKCP(1, ab.push)
	b := kcp.NewKCP(1, ba.push)
	for _, k := range []*kcp.KCP{a, b} {
		k.NoDelay(1, 10, 2, 1)
		k.WndSize(1024, 1024)
	}
	mss := 1400 - 24
	chunk := make([]byte, mss)
	buf := make([]byte, 1<<16)
	sent, got := 0, 0
	start := time.Now()
	for got < total {
		for sent < total && a.WaitSnd() < 1024 {
			a.Send(chunk)
			sent += mss
		}
		if len(ab.queue) == 0 && len(ba.queue) == 0 {
			a.Update() // kick: flushes when idle (first call, or after an interval)
		}
		ab.deliver(b, true)
		for {
			n := b.Recv(buf)
			if n < 0 {
				break
			}
			got += n
		}
		ba.deliver(a, false)
	}
	return time.Since(start)
}

func main() {
	reps := 5
	if len(os.Args) > 1 {
		reps, _ = strconv.Atoi(os.Args[1])
	}
	total := 256 << 20
	var ds []float64
	for r := 0; r < reps; r++ {
		ds = append(ds, run(total).Seconds())
	}
	sort.Float64s(ds)
	med := ds[len(ds)/2]
	segs := float64(total) / float64(1400-24)
	fmt.Printf("kcp-go 256 MiB loss 0: median %.3f s, %.0f MB/s, %.0f ns/segment (%d runs)\n", med, float64(total)/med/1e6, med*1e9/segs, reps)
}

// Command ackcost measures kcp-go v5.6.1's cost per ACK processed by Input, with ~91.5% of the window in flight
// (30,000 of 32,768) and 1% of the data lost, at windows 1k, 8k, 32k: the reference side of the Rust
// `ack_cost` benchmark (benches/benches/proto.rs). Build offline in GOPATH mode, see benches/README.md.
package main

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"time"

	kcp "github.com/xtaci/kcp-go"
)

type scenario struct {
	sender *kcp.KCP
	acks   [][]byte
	nacks  int
}

func build(wnd, inFlight int, loss float64, seed int64) scenario {
	var data, acks [][]byte
	sender := kcp.NewKCP(7, func(buf []byte, size int) { data = append(data, append([]byte(nil), buf[:size]...)) })
	receiver := kcp.NewKCP(7, func(buf []byte, size int) { acks = append(acks, append([]byte(nil), buf[:size]...)) })
	for _, k := range []*kcp.KCP{sender, receiver} {
		k.NoDelay(1, 10, 2, 1)
		k.WndSize(wnd, wnd)
	}
	// WINS telling the sender the receiver's window (kcp-go starts with 32).
	wins := make([]byte, 24)
	binary.LittleEndian.PutUint32(wins[0:], 7)
	wins[4] = 84
	binary.LittleEndian.PutUint16(wins[6:], uint16(wnd))
	sender.Input(wins, true, false)
	mss := 1400 - 24
	payload := make([]byte, mss)
	for i := 0; i < inFlight; i++ {
		sender.Send(payload)
	}
	sender.Update()
	rng := rand.New(rand.NewSource(seed))
	for i, d := range data {
		if i == 0 || rng.Float64() < loss {
			continue
		}
		receiver.Input(d, true, false)
	}
	receiver.Update()
	n := 0
	for _, a := range acks {
		n += len(a) / 24
	}
	return scenario{sender, acks, n}
}

func main() {
	reps := 7
	if len(os.Args) > 1 {
		reps, _ = strconv.Atoi(os.Args[1])
	}
	fmt.Println("| window | in flight | ACKs | kcp-go ns/ACK (median) |")
	fmt.Println("|---:|---:|---:|---:|")
	for _, wnd := range []int{1024, 8192, 32768} {
		inFlight := wnd * 30000 / 32768
		var per []float64
		n := 0
		for r := 0; r < reps; r++ {
			sc := build(wnd, inFlight, 0.01, 3)
			start := time.Now()
			for _, a := range sc.acks {
				sc.sender.Input(a, true, false)
			}
			el := time.Since(start)
			per = append(per, float64(el.Nanoseconds())/float64(sc.nacks))
			n = sc.nacks
		}
		sort.Float64s(per)
		fmt.Printf("| %d | %d | %d | %.1f |\n", wnd, inFlight, n, per[len(per)/2])
	}
}

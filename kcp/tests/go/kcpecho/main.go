// Command kcpecho runs one kcp-go v5.6.1 KCP (message mode, NoDelay(1,10,2,1), windows 128) that echoes every
// message it receives. Datagrams are exchanged over stdin/stdout as frames of a little-endian u32 length followed
// by the datagram. It exits when stdin closes. Used by kcp/tests/interop_kcpgo.rs.
package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"time"

	kcp "github.com/xtaci/kcp-go"
)

func main() {
	out := bufio.NewWriter(os.Stdout)
	k := kcp.NewKCP(0x11223344, func(buf []byte, size int) {
		var hdr [4]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(size))
		out.Write(hdr[:])
		out.Write(buf[:size])
	})
	k.NoDelay(1, 10, 2, 1)
	k.WndSize(128, 128)

	in := make(chan []byte, 1024)
	go func() {
		r := bufio.NewReader(os.Stdin)
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				close(in)
				return
			}
			d := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(r, d); err != nil {
				close(in)
				return
			}
			in <- d
		}
	}()

	ticker := time.NewTicker(10 * time.Millisecond)
	buf := make([]byte, 1<<20)
	for {
		select {
		case d, ok := <-in:
			if !ok {
				out.Flush()
				return
			}
			k.Input(d, true, false)
			for {
				n := k.Recv(buf)
				if n < 0 {
					break
				}
				k.Send(buf[:n])
			}
		case <-ticker.C:
			k.Update()
		}
		out.Flush()
	}
}

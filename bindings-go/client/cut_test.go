package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func frameBytes(json string) []byte {
	return append(binary.LittleEndian.AppendUint32([]byte("SASH"), uint32(len(json))), json...)
}

// An answer cut anywhere (no tail, no end-of-stream marker, half a message)
// is a lost connection, never a shorter result: a fake server sends each cut.
func TestCutAnswersAreLostConnections(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := timesRecord(mem, 1, 2, 3)
	var stream bytes.Buffer
	w := ipc.NewWriter(&stream, ipc.WithSchema(rec.Schema()))
	w.Write(rec)
	w.Write(rec)
	w.Close()
	rec.Release()
	ipcBytes := stream.Bytes()
	eos := len(ipcBytes) - 8
	full := append(append(frameBytes(`{"ok":true,"stream":true}`), ipcBytes...), frameBytes(`{"ok":true,"watermark":null}`)...)
	head := len(frameBytes(`{"ok":true,"stream":true}`))
	cuts := map[string]int{
		"in the head":            3,
		"before the stream":      head,
		"in a message":           head + eos/2,
		"before the marker":      head + eos,
		"in the marker":          head + eos + 4,
		"before the tail":        head + len(ipcBytes),
		"in the tail":            len(full) - 3,
		"complete (the control)": len(full),
	}
	dir, err := os.MkdirTemp("", "sash-go-") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "fake.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, cut := range cuts {
		go func() {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			for _, answer := range [][]byte{frameBytes(`{"ok":true,"stream":false,"protocol":1}`), full[:cut]} {
				var h [8]byte
				io.ReadFull(r, h[:])
				io.CopyN(io.Discard, r, int64(binary.LittleEndian.Uint32(h[4:])))
				conn.Write(answer)
			}
		}()
		c, err := Dial(sock, WithAllocator(mem))
		if err != nil {
			t.Fatal(name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := (&Stream{c, 1}).Finish(ctx)
		cancel()
		if cut == len(full) {
			if err != nil || out.NumRows() != 6 {
				t.Fatalf("%s: %v", name, err)
			}
			out.Release()
		} else if !errors.Is(err, ErrConnectionLost) || out != nil {
			t.Fatalf("cut %s: got %v, %v; want ErrConnectionLost", name, out, err)
		}
		c.Close()
	}
}

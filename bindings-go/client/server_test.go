package client

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// sashBin is the sash binary the tests serve with: $SASH_BIN, else the
// workspace's debug build. Its absence is a failure, never a skip.
func sashBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SASH_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "target", "debug", "sash")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		t.Fatalf("the sash binary %s is missing (%v): build it with `cargo build -p sash-cli` "+
			"or set SASH_BIN to a sash binary that has `serve`", abs, err)
	}
	return abs
}

// server is one `sash serve` process of a test.
type server struct {
	cmd    *exec.Cmd
	sock   string
	stderr *lockedBuffer
	exited chan struct{}
	err    error // the process' exit, once exited is closed
	killed bool
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer starts `sash serve` on a socket of its own and waits until a
// client can dial it; at the test's end it stops it with SIGTERM and checks
// that it exits 0 and removes its socket file.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	bin := sashBin(t)
	// Not t.TempDir: its long path can pass the 108 bytes of a socket path.
	dir, err := os.MkdirTemp("", "sash-go-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &server{sock: filepath.Join(dir, "s.sock"), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--socket", s.sock}, args...)...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := Dial(s.sock)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("sash serve exited before listening (%v): %s", s.err, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sash serve did not accept a client within 20 s (last: %v): %s", err, s.stderr)
		}
	}
}

func (s *server) kill(t *testing.T) {
	t.Helper()
	s.killed = true
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func (s *server) stop(t *testing.T) {
	if s.killed {
		<-s.exited
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("sash serve did not stop within 15 s of SIGTERM: %s", s.stderr)
		return
	}
	if s.err != nil {
		t.Errorf("sash serve did not exit 0 on SIGTERM (%v): %s", s.err, s.stderr)
	}
	if _, err := os.Stat(s.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sash serve left its socket file %s (stat: %v)", s.sock, err)
	}
}

// dial connects a client whose results come from mem (checked for leaks by the caller).
func (s *server) dial(t *testing.T, mem memory.Allocator) *Client {
	t.Helper()
	c, err := Dial(s.sock, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

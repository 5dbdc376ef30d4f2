package main

import (
	"bufio"
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	sash "github.com/sash-dev/sash/bindings-go"
)

var logPath = filepath.Join("..", "..", "..", "examples", "data", "apache_combined_10k.log")

// The job's arguments for the kill test: 200 batches of 50 lines.
var jobArgs = []string{"-batch-lines", "50", "-commit-every", "3"}

// TestMain runs the job instead of the tests when the kill test starts this
// binary as the job (SASH_EXACTLY_ONCE_JOB holds the job's arguments).
func TestMain(m *testing.M) {
	if args := os.Getenv("SASH_EXACTLY_ONCE_JOB"); args != "" {
		os.Args = append([]string{"exactly_once"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func job(t *testing.T, output string, pace time.Duration) *exec.Cmd {
	t.Helper()
	args := append(append([]string{}, jobArgs...), "-pace", pace.String(), logPath, output)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SASH_EXACTLY_ONCE_JOB="+strings.Join(args, "\x1f"))
	return cmd
}

func runToEnd(t *testing.T, output string) {
	t.Helper()
	if out, err := job(t, output, 0).CombinedOutput(); err != nil {
		t.Fatalf("the job failed: %v\n%s", err, out)
	}
}

func sortedLines(data []byte) []string {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	sort.Strings(lines)
	return lines
}

// One uninterrupted run writes window_agg over the whole log.
func TestTheOutputIsWindowAggOverTheWholeLog(t *testing.T) {
	output := filepath.Join(t.TempDir(), "out.jsonl")
	runToEnd(t, output)
	got, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte(`{"late"`)) {
		t.Fatal("the log's disorder is within the lateness: no row may be late")
	}
	text, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := sash.ParseBytes(text, `{"format": "combined"}`)
	if err != nil {
		t.Fatal(err)
	}
	defer parsed.Release()
	rows := WithoutErrorColumn(parsed)
	defer rows.Release()
	spec := strings.Replace(Spec, `, "lateness": %q`, "", 1)
	windows, err := sash.WindowAgg(rows, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.Release()
	want, err := Lines(windows, "window")
	if err != nil {
		t.Fatal(err)
	}
	if windows.NumRows() < 100 {
		t.Fatalf("only %d windows", windows.NumRows())
	}
	g, w := sortedLines(got), sortedLines(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("the stream's windows (%d lines) are not window_agg's (%d lines)", len(g), len(w))
	}
}

// Killed with SIGKILL at 20 random moments and restarted from its last
// commit each time, the job writes exactly what one uninterrupted run writes.
func TestKill9AtTwentyRandomMomentsLosesAndRepeatsNothing(t *testing.T) {
	dir := t.TempDir()
	straight := filepath.Join(dir, "straight.jsonl")
	runToEnd(t, straight)
	want, err := os.ReadFile(straight)
	if err != nil {
		t.Fatal(err)
	}

	output := filepath.Join(dir, "out.jsonl")
	rng := rand.New(rand.NewSource(7))
	killedWhileRunning, lastOffset, advanced := 0, int64(-1), 0
	for i := 0; i < 20; i++ {
		cmd := job(t, output, 10*time.Millisecond)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Killed at a random moment of its work, once it has started.
		first, _ := bufio.NewReader(stdout).ReadString('\n')
		if !strings.HasPrefix(first, "starting at offset") && first != "already finished\n" {
			t.Fatalf("run %d printed %q", i, first)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done: // it finished before the kill
		case <-time.After(time.Duration(rng.Int63n(int64(200 * time.Millisecond)))):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			if err := <-done; err != nil {
				killedWhileRunning++
			}
		}
		if meta, _, ok, err := LoadCommit(output + ".commit"); err != nil {
			t.Fatalf("run %d left a commit that does not load: %v", i, err)
		} else if ok {
			if meta.Offset > lastOffset {
				advanced++
			}
			lastOffset = meta.Offset
		}
	}
	runToEnd(t, output)
	got, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	if killedWhileRunning < 15 || advanced < 5 {
		t.Fatalf("the kills did not interrupt the work: %d killed while running, progress between kills %d times",
			killedWhileRunning, advanced)
	}
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) && i < len(w); i++ {
			if g[i] != w[i] {
				t.Fatalf("line %d differs:\n  got  %s\n  want %s", i, g[i], w[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(g), len(w))
	}
}

package sash

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The thread count is set and read process-wide, refused out of range
// (leaving it as it was), and never a part of a result: a parse large
// enough to be cut into parts gives the same rows with 1 and 3 threads,
// and eight goroutines calling at once get what one gets alone.
func TestThreads(t *testing.T) {
	defer SetThreads(0)
	if err := SetThreads(3); err != nil || Threads() != 3 {
		t.Fatalf("SetThreads(3): %v, Threads() = %d", err, Threads())
	}
	for _, bad := range []int{-1, 1025} {
		var e *Error
		if err := SetThreads(bad); !errors.As(err, &e) || e.Kind != KindInvalidInput {
			t.Fatalf("SetThreads(%d): %v", bad, err)
		}
		if Threads() != 3 {
			t.Fatalf("a refused count changed the count to %d", Threads())
		}
	}

	text, err := os.ReadFile(filepath.Join("..", "tests", "data", "logs", "apache_combined_10k.log"))
	if err != nil {
		t.Fatal(err)
	}
	text = bytes.Repeat(text, 3)
	// The columns printed in full: a difference in any value shows.
	parse := func() string {
		rec, err := ParseBytes(text, `{"format": "combined"}`)
		if err != nil {
			return err.Error()
		}
		defer rec.Release()
		var b bytes.Buffer
		for i := 0; i < int(rec.NumCols()); i++ {
			b.WriteString(rec.ColumnName(i))
			b.WriteString(rec.Column(i).String())
		}
		return b.String()
	}
	if err := SetThreads(1); err != nil {
		t.Fatal(err)
	}
	alone := parse()
	if err := SetThreads(3); err != nil {
		t.Fatal(err)
	}
	if parse() != alone {
		t.Fatal("3 threads parse differently from 1")
	}
	var wg sync.WaitGroup
	failures := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if parse() != alone {
				failures <- "differs"
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Fatal(f)
	}
}

// exactly_once: per-minute metrics of an access log, exactly once, through
// kill -9 — the Go twin of examples/exactly_once.py.
//
// A streaming job that may die at any moment and must neither lose nor
// repeat a result: it reads the log in batches of lines, parses each batch
// (sash.ParseBytes, combined format), pushes it into a sash.WindowStream
// (requests, bytes and distinct hosts per minute and status), and appends
// every window the stream emits to an output file, one JSON line each. Every
// -commit-every batches it commits three things together, atomically: the
// stream's snapshot, the input offset (bytes of the log consumed) and the
// output length. A restart reads the last commit, cuts the output back to the
// committed length (lines written after the commit are written again),
// restores the stream and reads the log from the committed offset. Whatever
// moment the process died at, the finished output is byte for byte what one
// uninterrupted run writes (main_test.go kills it 20 times to check).
//
// The commit is one file written whole under a temporary name, synced, and
// renamed over the last one: a rename is atomic, so a restart sees the old
// commit or the new one, never half of either.
//
// Run from bindings-go with the CGO_* variables of `make test-go`:
//
//	go run ./examples/exactly_once ../examples/data/apache_combined_10k.log out.jsonl
//
// Rows the stream finds too late (more than -lateness behind the newest time
// seen) are not dropped silently: they are written as {"late": ...} lines.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	sash "github.com/sash-dev/sash/bindings-go"
)

// Spec is the window spec (lateness is added from the command line).
const Spec = `{"time": "timestamp", "every": "1m", "by": "status",
  "aggs": ["count() as requests", "sum(size) as bytes", "count_distinct(host) as hosts"], "lateness": %q}`

// Commit is what a restart resumes from (the stream's snapshot follows it in the commit file).
type Commit struct {
	Offset      int64 `json:"offset"`
	OutputBytes int64 `json:"output_bytes"`
	Finished    bool  `json:"finished"`
}

// LoadCommit reads the last commit: its metadata and the snapshot, or ok false when there is none.
func LoadCommit(path string) (meta Commit, snapshot []byte, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Commit{}, nil, false, nil
	}
	if err != nil {
		return Commit{}, nil, false, err
	}
	if len(data) < 8 {
		return Commit{}, nil, false, fmt.Errorf("%s: cut short", path)
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return Commit{}, nil, false, fmt.Errorf("%s: cut short", path)
	}
	if err := json.Unmarshal(data[8:8+n], &meta); err != nil {
		return Commit{}, nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return meta, data[8+n:], true, nil
}

// WriteCommit replaces the commit at path atomically: write, fsync, rename, fsync the directory.
func WriteCommit(path string, meta Commit, snapshot []byte) error {
	body, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	header := binary.LittleEndian.AppendUint64(nil, uint64(len(body)))
	for _, part := range [][]byte{header, body, snapshot} {
		if _, err := f.Write(part); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// Lines writes one JSON line per row, {kind: {column: value}}, keys sorted
// (encoding/json sorts map keys), timestamps as arrow-go writes them.
func Lines(rec arrow.RecordBatch, kind string) ([]byte, error) {
	var out []byte
	for r := 0; r < int(rec.NumRows()); r++ {
		row := make(map[string]any, rec.NumCols())
		for c := 0; c < int(rec.NumCols()); c++ {
			row[rec.ColumnName(c)] = rec.Column(c).GetOneForMarshal(r)
		}
		line, err := json.Marshal(map[string]any{kind: row})
		if err != nil {
			return nil, err
		}
		out = append(append(out, line...), '\n')
	}
	return out, nil
}

// WithoutErrorColumn is the parse output minus its _error column (the window spec does not take it).
func WithoutErrorColumn(rec arrow.RecordBatch) arrow.RecordBatch {
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		if f.Name != "_error" {
			fields = append(fields, f)
			cols = append(cols, rec.Column(i))
		}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}

// Options are the job's settings.
type Options struct {
	BatchLines  int
	CommitEvery int
	Lateness    string
	Pace        time.Duration
}

// Run runs (or resumes) the job: logPath in, output (and output + ".commit") out.
func Run(logPath, output string, opt Options) error {
	commitPath := output + ".commit"
	meta, snapshot, resumed, err := LoadCommit(commitPath)
	if err != nil {
		return err
	}
	if meta.Finished {
		fmt.Println("already finished")
		return nil
	}
	var stream *sash.WindowStream
	if resumed {
		stream, err = sash.RestoreWindowStream(snapshot)
	} else {
		stream, err = sash.NewWindowStream(fmt.Sprintf(Spec, opt.Lateness))
	}
	if err != nil {
		return err
	}
	defer stream.Close()
	fmt.Printf("starting at offset %d, output at %d bytes\n", meta.Offset, meta.OutputBytes)

	out, err := os.OpenFile(output, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	// Lines written after the last commit are written again below.
	if err := out.Truncate(meta.OutputBytes); err != nil {
		return err
	}
	if _, err := out.Seek(meta.OutputBytes, io.SeekStart); err != nil {
		return err
	}
	in, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := in.Seek(meta.Offset, io.SeekStart); err != nil {
		return err
	}
	reader := bufio.NewReader(in)

	emit := func(windows arrow.RecordBatch) error {
		defer windows.Release()
		late, err := stream.TakeLate()
		if err != nil {
			return err
		}
		defer late.Release()
		for _, part := range []struct {
			rec  arrow.RecordBatch
			kind string
		}{{windows, "window"}, {late, "late"}} {
			text, err := Lines(part.rec, part.kind)
			if err != nil {
				return err
			}
			if _, err := out.Write(text); err != nil {
				return err
			}
		}
		return nil
	}
	save := func(offset int64, finished bool) error {
		if err := out.Sync(); err != nil {
			return err
		}
		size, err := out.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		snap, err := stream.Snapshot()
		if err != nil {
			return err
		}
		return WriteCommit(commitPath, Commit{Offset: offset, OutputBytes: size, Finished: finished}, snap)
	}

	offset, batches := meta.Offset, 0
	for {
		var chunk []byte
		for lines := 0; lines < opt.BatchLines; lines++ {
			line, err := reader.ReadBytes('\n')
			chunk = append(chunk, line...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if len(chunk) == 0 {
			break
		}
		parsed, err := sash.ParseBytes(chunk, `{"format": "combined"}`)
		if err != nil {
			return err
		}
		rows := WithoutErrorColumn(parsed)
		parsed.Release()
		windows, err := stream.Push(rows)
		rows.Release()
		if err != nil {
			return err
		}
		if err := emit(windows); err != nil {
			return err
		}
		offset += int64(len(chunk))
		batches++
		if batches%opt.CommitEvery == 0 {
			if err := save(offset, false); err != nil {
				return err
			}
		}
		time.Sleep(opt.Pace)
	}
	windows, err := stream.Finish()
	if err != nil {
		return err
	}
	if err := emit(windows); err != nil {
		return err
	}
	return save(offset, true)
}

func main() {
	var opt Options
	flag.IntVar(&opt.BatchLines, "batch-lines", 500, "log lines per batch")
	flag.IntVar(&opt.CommitEvery, "commit-every", 3, "commit every N batches")
	flag.StringVar(&opt.Lateness, "lateness", "5m", "how far behind the newest time a row may come")
	flag.DurationVar(&opt.Pace, "pace", 0, "sleep after each batch (for the kill test)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: exactly_once [flags] LOG OUTPUT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if err := Run(flag.Arg(0), flag.Arg(1), opt); err != nil {
		fmt.Fprintln(os.Stderr, "exactly_once:", err)
		os.Exit(1)
	}
}

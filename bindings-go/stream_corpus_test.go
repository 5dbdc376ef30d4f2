package sash

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

type table struct {
	Schema  []field          `json:"schema"`
	Columns map[string][]any `json:"columns"`
}

type streamStep struct {
	Push     *int   `json:"push"`
	Advance  *int64 `json:"advance"`
	Finish   bool   `json:"finish"`
	TakeLate bool   `json:"take_late"`
	Restore  bool   `json:"restore"`
	Expected *table `json:"expected"`
	Error    *struct {
		Kind            string   `json:"kind"`
		MessageContains []string `json:"message_contains"`
	} `json:"error"`
	Stats *struct {
		RowsIn           uint64 `json:"rows_in"`
		RowsLate         uint64 `json:"rows_late"`
		NullTimesDropped uint64 `json:"null_times_dropped"`
	} `json:"stats"`
}

type streamCase struct {
	windowCase
	Steps []streamStep `json:"steps"`
}

// goStream is what WindowStream and RollingStream share, for one runner.
type goStream interface {
	Push(arrow.RecordBatch) (arrow.RecordBatch, error)
	Advance(int64) (arrow.RecordBatch, error)
	Finish() (arrow.RecordBatch, error)
	TakeLate() (arrow.RecordBatch, error)
	Snapshot() ([]byte, error)
	Stats() (StreamStats, error)
	Close() error
}

// inputBatches builds a case's input batches (sliced as the case says); ok is
// false when a type or value is beyond this runner.
func inputBatches(mem memory.Allocator, c *streamCase) ([]arrow.RecordBatch, bool) {
	fields := make([]arrow.Field, 0, len(c.Input.Schema))
	for _, f := range c.Input.Schema {
		dt, ok := corpusType(f.Type)
		if !ok {
			return nil, false
		}
		fields = append(fields, arrow.Field{Name: f.Name, Type: dt, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	var out []arrow.RecordBatch
	for _, b := range c.Input.Batches {
		cols := make([]arrow.Array, 0, len(fields))
		ok := true
		for _, f := range fields {
			col, built := buildColumn(mem, f.Type, b.Columns[f.Name])
			if !built {
				ok = false
				break
			}
			cols = append(cols, col)
		}
		if !ok {
			for _, col := range cols {
				col.Release()
			}
			for _, rec := range out {
				rec.Release()
			}
			return nil, false
		}
		n := int64(len(b.Columns[fields[0].Name]))
		rec := array.NewRecordBatch(schema, cols, n)
		for _, col := range cols {
			col.Release()
		}
		if b.Slice != nil {
			sliced := rec.NewSlice(int64(b.Slice[0]), int64(b.Slice[0]+b.Slice[1]))
			rec.Release()
			rec = sliced
		}
		out = append(out, rec)
	}
	return out, true
}

func compareTable(got arrow.RecordBatch, want *table) error {
	if int(got.NumCols()) != len(want.Schema) {
		return fmt.Errorf("got %d columns, want %d", got.NumCols(), len(want.Schema))
	}
	for i, f := range want.Schema {
		if got.ColumnName(i) != f.Name {
			return fmt.Errorf("column %d is %s, want %s", i, got.ColumnName(i), f.Name)
		}
		dt, _ := corpusType(f.Type)
		if dt != nil && !arrow.TypeEqual(got.Column(i).DataType(), dt) {
			return fmt.Errorf("column %s has type %s, want %s", f.Name, got.Column(i).DataType(), f.Type)
		}
		col, values := got.Column(i), want.Columns[f.Name]
		if col.Len() != len(values) {
			return fmt.Errorf("column %s has %d rows, want %d", f.Name, col.Len(), len(values))
		}
		for r := range values {
			if g := cellValue(col, r); !same(g, values[r]) {
				return fmt.Errorf("column %s row %d: got %v, want %v", f.Name, r, g, values[r])
			}
		}
	}
	return nil
}

func runStreamCase(c *streamCase, batches []arrow.RecordBatch) error {
	var s goStream
	var err error
	restore := RestoreWindowStream
	if c.Op == "window_stream" {
		s, err = NewWindowStream(string(c.Spec))
	} else {
		s, err = NewRollingStream(string(c.Spec))
	}
	if err != nil {
		return err
	}
	defer func() { s.Close() }()
	for i, step := range c.Steps {
		var out arrow.RecordBatch
		switch {
		case step.Push != nil:
			out, err = s.Push(batches[*step.Push])
		case step.Advance != nil:
			out, err = s.Advance(*step.Advance)
		case step.Finish:
			out, err = s.Finish()
		case step.TakeLate:
			out, err = s.TakeLate()
		case step.Restore:
			snap, err := s.Snapshot()
			if err != nil {
				return fmt.Errorf("step %d: snapshot: %v", i, err)
			}
			s.Close()
			if c.Op == "window_stream" {
				s, err = restore(snap)
			} else {
				s, err = RestoreRollingStream(snap)
			}
			if err != nil {
				return fmt.Errorf("step %d: restore: %v", i, err)
			}
			continue
		default:
			return fmt.Errorf("step %d: no action", i)
		}
		if step.Error != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != step.Error.Kind {
				return fmt.Errorf("step %d: got %v, want an error of kind %s", i, err, step.Error.Kind)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("step %d: %v", i, err)
		}
		cmp := compareTable(out, step.Expected)
		out.Release()
		if cmp != nil {
			return fmt.Errorf("step %d: %v", i, cmp)
		}
		if step.Stats != nil {
			st, err := s.Stats()
			if err != nil {
				return err
			}
			if st.RowsIn != step.Stats.RowsIn || st.RowsLate != step.Stats.RowsLate || st.NullTimesDropped != step.Stats.NullTimesDropped {
				return fmt.Errorf("step %d: stats %+v, want %+v", i, st, *step.Stats)
			}
		}
	}
	return nil
}

// The stream cases of the corpus (tests/conformance/streams), through
// WindowStream and RollingStream.
func TestStreamCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpus, "streams", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stream corpus files (%v)", err)
	}
	sort.Strings(files)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	ran, total := 0, 0
	for _, path := range files {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cases []streamCase `json:"cases"`
		}
		if err := json.Unmarshal(text, &doc); err != nil {
			t.Fatal(err)
		}
		for i := range doc.Cases {
			c := &doc.Cases[i]
			total++
			batches, ok := inputBatches(mem, c)
			if !ok {
				continue
			}
			t.Run(c.Name, func(t *testing.T) {
				if err := runStreamCase(c, batches); err != nil {
					t.Error(err)
				}
			})
			for _, b := range batches {
				b.Release()
			}
			ran++
		}
	}
	if ran < total-2 {
		t.Fatalf("only %d of %d stream cases ran", ran, total)
	}
	t.Logf("%d of %d stream cases through libsash %s", ran, total, Version())
	mem.AssertSize(t, 0)
}

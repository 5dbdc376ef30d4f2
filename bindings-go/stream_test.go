package sash

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func timesBatch(t *testing.T, mem memory.Allocator, ts ...int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(ts, nil)
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, int64(len(ts)))
}

func counts(t *testing.T, rec arrow.RecordBatch) []int64 {
	t.Helper()
	defer rec.Release()
	for i, f := range rec.Schema().Fields() {
		if f.Name == "n" {
			// A copy: the values go with the batch.
			return append([]int64(nil), rec.Column(i).(*array.Int64).Int64Values()...)
		}
	}
	return nil
}

func TestWindowStreamEmitsAsTheWatermarkPassesAndRestores(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s, err := NewWindowStream(`{"time": "ts", "every": 10, "aggs": ["count() as n"], "lateness": 2}`)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	push := func(ts ...int64) []int64 {
		rec := timesBatch(t, mem, ts...)
		defer rec.Release()
		out, err := s.Push(rec)
		if err != nil {
			t.Fatal(err)
		}
		return counts(t, out)
	}
	if got := push(1, 5, 11); len(got) != 0 {
		t.Fatalf("nothing closes at watermark 9, got %v", got)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := RestoreWindowStream(snap)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = restored
	if got := push(12); len(got) != 1 || got[0] != 2 {
		t.Fatalf("[0, 10) with 2 rows closes at watermark 10, got %v", got)
	}
	push(3, 15) // 3 is late
	late, err := s.TakeLate()
	if err != nil {
		t.Fatal(err)
	}
	if late.NumRows() != 1 {
		t.Fatalf("one late row, got %d", late.NumRows())
	}
	late.Release()
	out, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(t, out); len(got) != 1 || got[0] != 3 {
		t.Fatalf("finish emits [10, 20) with 3 rows, got %v", got)
	}
	rec := timesBatch(t, mem, 30)
	defer rec.Release()
	var e *Error
	if _, err := s.Push(rec); !errors.As(err, &e) || e.Kind != KindInvalidInput {
		t.Fatalf("a push after finish is invalid_input, got %v", err)
	}
	if _, err := RestoreWindowStream(snap[:len(snap)/2]); !errors.As(err, &e) || e.Kind != KindInvalidInput {
		t.Fatalf("a cut snapshot is invalid_input, got %v", err)
	}
	if _, err := NewWindowStream(`{"time": "ts", "every": 5, "aggs": ["count()"], "lateness": -1}`); !errors.As(err, &e) || e.Kind != KindInvalidSpec {
		t.Fatalf("a negative lateness is invalid_spec, got %v", err)
	}
	s.Close()
	if _, err := s.Finish(); err == nil {
		t.Fatal("a closed stream fails")
	}
}

// The golden snapshots Python wrote (tests/data/streams), of every format
// version, restore here; each restored stream's snapshot is the latest
// format's golden one, byte for byte.
func TestWindowStreamRestoresThePythonGoldenSnapshots(t *testing.T) {
	golden := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "tests", "data", "streams", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	latest := golden("window_stream_v2.snap")
	for _, name := range []string{"window_stream_v1.snap", "window_stream_v2.snap"} {
		s, err := RestoreWindowStream(golden(name))
		if err != nil {
			t.Fatal(name, err)
		}
		again, err := s.Snapshot()
		if err != nil {
			t.Fatal(name, err)
		}
		if string(again) != string(latest) {
			t.Fatalf("%s: the snapshot of the restored stream differs from the latest golden one", name)
		}
		out, err := s.Finish()
		if err != nil {
			t.Fatal(name, err)
		}
		if got := counts(t, out); len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 1 {
			t.Fatalf("%s: want n = [2 1 1], got %v", name, got)
		}
		s.Close()
	}
}

func TestRollingStreamEmitsEachRowOnceTheWatermarkPassesIt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s, err := NewRollingStream(`{"time": "ts", "period": 5, "aggs": ["count() as n"], "lateness": 1}`)
	if err != nil {
		t.Fatal(err)
	}
	push := func(s *RollingStream, ts ...int64) []int64 {
		rec := timesBatch(t, mem, ts...)
		defer rec.Release()
		out, err := s.Push(rec)
		if err != nil {
			t.Fatal(err)
		}
		return counts(t, out)
	}
	if got := push(s, 1, 3); !reflect.DeepEqual(got, []int64{1}) {
		t.Fatalf("the row at 1 is final at watermark 2: want [1], got %v", got)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	r, err := RestoreRollingStream(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := push(r, 2, 6); !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Fatalf("the rows at 2 and 3 at watermark 5: want [2 3], got %v", got)
	}
	push(r, 0) // late
	late, err := r.TakeLate()
	if err != nil {
		t.Fatal(err)
	}
	if late.NumRows() != 1 {
		t.Fatalf("one late row, got %d", late.NumRows())
	}
	late.Release()
	out, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(t, out); !reflect.DeepEqual(got, []int64{3}) {
		t.Fatalf("the row at 6 sees 2, 3 and 6: want [3], got %v", got)
	}
	var e *Error
	if _, err := RestoreRollingStream(snap[:len(snap)/2]); !errors.As(err, &e) || e.Kind != KindInvalidInput {
		t.Fatalf("a cut snapshot is invalid_input, got %v", err)
	}
	if _, err := RestoreWindowStream(snap); !errors.As(err, &e) || e.Kind != KindInvalidInput {
		t.Fatalf("a rolling snapshot is not a window stream's, got %v", err)
	}
	if _, err := s.Finish(); err == nil {
		t.Fatal("a closed stream fails")
	}
}

func TestStreamWatermarkAndStats(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s, err := NewWindowStream(`{"time": "ts", "every": 10, "aggs": ["count() as n"], "lateness": 2}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Watermark(); ok || err != nil {
		t.Fatalf("a new stream has no watermark (ok %v, err %v)", ok, err)
	}
	for _, ts := range [][]int64{{1, 5, 11}, {3}} {
		rec := timesBatch(t, mem, ts...)
		out, err := s.Push(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		out.Release()
	}
	if w, ok, err := s.Watermark(); !ok || err != nil || w != 9 {
		t.Fatalf("watermark %d (ok %v, err %v), want 9", w, ok, err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// 3 is on time: its window [0, 10) is still open at watermark 9.
	if st.RowsIn != 4 || st.RowsLate != 0 || st.OpenWindows != 2 || st.StateBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	s.Close()
	if _, err := s.Stats(); err == nil {
		t.Fatal("Stats after Close must fail")
	}
	if _, _, err := s.Watermark(); err == nil {
		t.Fatal("Watermark after Close must fail")
	}
}

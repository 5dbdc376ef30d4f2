package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// setVar sets a package variable for one test.
func setVar[T any](t *testing.T, p *T, v T) {
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rows is a table of ts (Int64), v (Int64) and k (String).
type rows struct {
	ts, v []int64
	k     []string
}

func randomRows(rng *rand.Rand, n int) rows {
	var r rows
	for range n {
		r.ts = append(r.ts, rng.Int64N(1000)-100)
		r.v = append(r.v, rng.Int64N(2000)-1000)
		r.k = append(r.k, []string{"a", "b", "c"}[rng.IntN(3)])
	}
	return r
}

func (r rows) record(mem memory.Allocator) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
		{Name: "k", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(r.ts, nil)
	b.Field(1).(*array.Int64Builder).AppendValues(r.v, nil)
	b.Field(2).(*array.StringBuilder).AppendValues(r.k, nil)
	return b.NewRecordBatch()
}

func column(t *testing.T, rec arrow.RecordBatch, name string) arrow.Array {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %v", name, rec.Schema())
	}
	return rec.Column(idx[0])
}

func int64s(t *testing.T, rec arrow.RecordBatch, name string) []int64 {
	t.Helper()
	a, ok := column(t, rec, name).(*array.Int64)
	if !ok {
		t.Fatalf("column %q is %s, not int64", name, column(t, rec, name).DataType())
	}
	out := make([]int64, a.Len())
	for i := range out {
		if a.IsNull(i) {
			t.Fatalf("column %q has a null at %d", name, i)
		}
		out[i] = a.Value(i)
	}
	return out
}

func strs(t *testing.T, rec arrow.RecordBatch, name string) []string {
	t.Helper()
	a := column(t, rec, name)
	out := make([]string, a.Len())
	for i := range out {
		out[i] = a.ValueStr(i)
	}
	return out
}

// windowAgg is the brute force of {"time": "ts", "every": every, "by": "k",
// "aggs": ["count() as n", "sum(v) as s"]}: rows by window start, then key.
func (r rows) windowAgg(every int64) (start, n, s []int64, k []string) {
	type key struct {
		start int64
		k     string
	}
	start, n, s, k = []int64{}, []int64{}, []int64{}, []string{}
	acc := map[key][2]int64{}
	for i, ts := range r.ts {
		st := ts - ((ts%every)+every)%every
		a := acc[key{st, r.k[i]}]
		acc[key{st, r.k[i]}] = [2]int64{a[0] + 1, a[1] + r.v[i]}
	}
	keys := make([]key, 0, len(acc))
	for k := range acc {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.start != b.start {
			return int(a.start - b.start)
		}
		return strings.Compare(a.k, b.k)
	})
	for _, kk := range keys {
		start, k = append(start, kk.start), append(k, kk.k)
		n, s = append(n, acc[kk][0]), append(s, acc[kk][1])
	}
	return
}

// rolling is the brute force of {"time": "ts", "period": period, "by": "k",
// "aggs": ["sum(v) as s", "count() as n"]}: per row, the rows of its key with
// a time in (ts - period, ts].
func (r rows) rolling(period int64) (s, n []int64) {
	for i := range r.ts {
		var sum, cnt int64
		for j := range r.ts {
			if r.k[j] == r.k[i] && r.ts[j] > r.ts[i]-period && r.ts[j] <= r.ts[i] {
				sum, cnt = sum+r.v[j], cnt+1
			}
		}
		s, n = append(s, sum), append(n, cnt)
	}
	return
}

const windowSpec = `{"time": "ts", "every": 7, "by": "k", "aggs": ["count() as n", "sum(v) as s"]}`
const rollingSpec = `{"time": "ts", "period": 10, "by": "k", "aggs": ["sum(v) as s", "count() as n"]}`

func checkWindowAgg(t *testing.T, c *Client, mem memory.Allocator, r rows) {
	t.Helper()
	rec := r.record(mem)
	defer rec.Release()
	out, err := c.WindowAgg(ctxT(t), rec, windowSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	start, n, s, k := r.windowAgg(7)
	got := []any{int64s(t, out, "window_start"), int64s(t, out, "n"), int64s(t, out, "s"), strs(t, out, "k")}
	if want := []any{start, n, s, k}; !reflect.DeepEqual(got, want) {
		t.Fatalf("window_agg:\n got %v\nwant %v", got, want)
	}
	if ends, starts := int64s(t, out, "window_end"), int64s(t, out, "window_start"); len(ends) != len(starts) || (len(ends) > 0 && ends[0] != starts[0]+7) {
		t.Fatalf("window_end %v", ends)
	}
}

func checkRolling(t *testing.T, c *Client, mem memory.Allocator, r rows) {
	t.Helper()
	rec := r.record(mem)
	defer rec.Release()
	out, err := c.Rolling(ctxT(t), rec, rollingSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	s, n := r.rolling(10)
	got := []any{int64s(t, out, "ts"), int64s(t, out, "v"), strs(t, out, "k"), int64s(t, out, "s"), int64s(t, out, "n")}
	if want := []any{r.ts, r.v, r.k, s, n}; !reflect.DeepEqual(got, want) {
		t.Fatalf("rolling:\n got %v\nwant %v", got, want)
	}
}

func TestWindowAggAndRollingMatchBruteForce(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := s.dial(t, mem)
	rng := rand.New(rand.NewPCG(1, 2))

	// By hand: windows [0, 10) and [10, 20) of every 10.
	hand := rows{ts: []int64{1, 5, 11, 12, 25}, v: []int64{1, 2, 3, 4, 5}, k: []string{"a", "a", "a", "a", "a"}}
	rec := hand.record(mem)
	out, err := c.WindowAgg(ctxT(t), rec, `{"time": "ts", "every": 10, "aggs": ["count() as n", "sum(v) as s"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]int64{int64s(t, out, "window_start"), int64s(t, out, "window_end"), int64s(t, out, "n"), int64s(t, out, "s")}; !reflect.DeepEqual(got, [][]int64{{0, 10, 20}, {10, 20, 30}, {2, 2, 1}, {3, 7, 5}}) {
		t.Fatalf("window_agg by hand: %v", got)
	}
	out.Release()
	out, err = c.Rolling(ctxT(t), rec, `{"time": "ts", "period": 10, "aggs": ["sum(v) as s"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64s(t, out, "s"); !reflect.DeepEqual(got, []int64{1, 3, 5, 9, 5}) { // (t-10, t]
		t.Fatalf("rolling by hand: %v", got)
	}
	out.Release()
	rec.Release()

	checkWindowAgg(t, c, mem, randomRows(rng, 3000))
	checkRolling(t, c, mem, randomRows(rng, 1500))
	// The input in several batches (and an answer of several for rolling).
	setVar(t, &rowsPerBatch, 256)
	checkWindowAgg(t, c, mem, randomRows(rng, 3000))
	checkRolling(t, c, mem, randomRows(rng, 1500))
	checkWindowAgg(t, c, mem, rows{}) // no rows
}

const clf = `%s - - [10/Oct/2000:13:55:%02d -0700] "GET /p%d HTTP/1.0" %d %d`

func logLines(n int, bad map[int]bool) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(clf, fmt.Sprintf("10.0.%d.%d", i/256%256, i%256), i%60, i, 200+i%5, i*3)
		if bad[i] {
			lines[i] = "not a log line " + fmt.Sprint(i)
		}
	}
	return lines
}

func stringArray(mem memory.Allocator, values []string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(values, nil)
	return b.NewArray()
}

// checkParsed checks a parse of logLines(n, bad).
func checkParsed(t *testing.T, out arrow.RecordBatch, n int, bad map[int]bool) {
	t.Helper()
	if out.NumRows() != int64(n) {
		t.Fatalf("%d rows, want %d", out.NumRows(), n)
	}
	host, path, status, size, errs := strs(t, out, "host"), strs(t, out, "path"), column(t, out, "status").(*array.Uint16), column(t, out, "size").(*array.Uint64), column(t, out, "_error")
	for i := range n {
		if bad[i] {
			if errs.IsNull(i) {
				t.Fatalf("row %d: a bad line without _error", i)
			}
			continue
		}
		wantHost := fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)
		if errs.IsValid(i) || host[i] != wantHost || path[i] != fmt.Sprintf("/p%d", i) || status.Value(i) != uint16(200+i%5) || size.Value(i) != uint64(i*3) {
			t.Fatalf("row %d: host %q path %q status %d size %d error %q", i, host[i], path[i], status.Value(i), size.Value(i), errs.ValueStr(i))
		}
	}
}

func TestParseAndParseBytes(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := s.dial(t, mem)
	bad := map[int]bool{7: true, 1500: true}
	lines := logLines(2000, bad)
	arr := stringArray(mem, lines)
	defer arr.Release()

	out, err := c.Parse(ctxT(t), arr, `{"format": "common"}`)
	if err != nil {
		t.Fatal(err)
	}
	checkParsed(t, out, 2000, bad)
	// The same lines in several batches: an answer of several, concatenated.
	setVar(t, &rowsPerBatch, 300)
	many, err := c.Parse(ctxT(t), arr, `{"format": "common"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !array.RecordEqual(out, many) {
		t.Fatal("a parse in batches differs from one in one batch")
	}
	many.Release()

	data := []byte(strings.Join(lines, "\n") + "\n")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(data)
	w.Close()
	setVar(t, &chunkBytes, 50_000) // lines span values and batches (not smaller: the server is slow on small values)
	for name, data := range map[string][]byte{"plain": data, "gzip": gz.Bytes()} {
		got, err := c.ParseBytes(ctxT(t), data, `{"format": "common"}`)
		if err != nil {
			t.Fatal(name, err)
		}
		checkParsed(t, got, 2000, bad)
		for i, f := range out.Schema().Fields() {
			if f.Name != "_error" && !array.Equal(out.Column(i), got.Column(i)) {
				t.Fatalf("%s: column %s differs from Parse's", name, f.Name)
			}
		}
		got.Release()
	}
	ncols := out.NumCols()
	out.Release()

	empty, err := c.ParseBytes(ctxT(t), nil, `{"format": "common"}`) // an answer of no batches
	if err != nil {
		t.Fatal(err)
	}
	if empty.NumRows() != 0 || empty.NumCols() != ncols {
		t.Fatalf("parse of no bytes: %d rows, %d columns", empty.NumRows(), empty.NumCols())
	}
	empty.Release()
}

func TestErrorsKeepTheConnection(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := s.dial(t, mem)
	r := randomRows(rand.New(rand.NewPCG(3, 4)), 500)
	rec := r.record(mem)
	defer rec.Release()
	ctx := ctxT(t)
	kind := func(err error) string {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%v (%T) is not an *Error", err, err)
		}
		return e.Kind
	}
	_, err := c.WindowAgg(ctx, rec, `{"time": "latency", "every": 7, "aggs": ["count()"]}`)
	if kind(err) != "unknown_column" || !strings.Contains(err.Error(), "latency") {
		t.Fatalf("got %v, want unknown_column naming latency", err)
	}
	checkWindowAgg(t, c, mem, r) // the connection goes on
	if _, err := c.Rolling(ctx, rec, `{"time": "ts", "period": 10, "aggs": [`); kind(err) != "invalid_spec" {
		t.Fatalf("a spec that is not JSON: %v", err)
	}
	if _, err := c.WindowAgg(ctx, rec, `{"time": "ts", "every": 7, "aggs": ["nope(v)"]}`); kind(err) != "unknown_function" {
		t.Fatalf("unknown function: %v", err)
	}
	// An error after the answer's rows started: it comes in the tail, and no
	// rows are returned.
	setVar(t, &rowsPerBatch, 100)
	lines := stringArray(mem, logLines(400, map[int]bool{250: true}))
	defer lines.Release()
	if out, err := c.Parse(ctx, lines, `{"format": "common", "on_error": "raise"}`); kind(err) != "parse" || out != nil {
		t.Fatalf("a bad line with on_error raise: %v, %v", out, err)
	}
	if errors.Is(err, ErrConnectionLost) {
		t.Fatal("a server error is not a lost connection")
	}
	checkRolling(t, c, mem, r)
	st, err := c.OpenWindowStream(ctx, `{"time": "ts", "every": 10, "aggs": ["count() as n"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finish(ctx); kind(err) != "invalid_input" {
		t.Fatalf("finish of a closed stream: %v", err)
	}
	if _, err := c.RestoreWindowStream(ctx, []byte("not a snapshot")); kind(err) != "invalid_input" {
		t.Fatalf("restore of garbage: %v", err)
	}
	checkWindowAgg(t, c, mem, r)
	c.Close()
	if _, err := c.WindowAgg(ctx, rec, windowSpec); !errors.Is(err, ErrConnectionLost) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a call after Close: %v", err)
	}
}

func TestDialRefusedBeyondMaxClients(t *testing.T) {
	s := startServer(t, "--max-clients", "1")
	var first *Client
	for deadline := time.Now().Add(10 * time.Second); first == nil; {
		c, err := Dial(s.sock) // the readiness probe's connection may still count
		if err == nil {
			first = c
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer first.Close()
	_, err := Dial(s.sock)
	var e *Error
	if !errors.As(err, &e) || e.Kind != "resource_limit" {
		t.Fatalf("a second client: %v, want resource_limit", err)
	}
}

// timesRecord is rows at times ts, with v = ts and k = "a".
func timesRecord(mem memory.Allocator, ts ...int64) arrow.RecordBatch {
	k := make([]string, len(ts))
	for i := range k {
		k[i] = "a"
	}
	return rows{ts: ts, v: ts, k: k}.record(mem)
}

func TestStreamsSnapshotAndRestore(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c1, c2 := s.dial(t, mem), s.dial(t, mem)
	ctx := ctxT(t)
	must := func(rec arrow.RecordBatch, err error) arrow.RecordBatch {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	counts := func(rec arrow.RecordBatch) []int64 {
		t.Helper()
		defer rec.Release()
		return int64s(t, rec, "n")
	}
	push := func(st *Stream, ts ...int64) []int64 {
		t.Helper()
		rec := timesRecord(mem, ts...)
		defer rec.Release()
		return counts(must(st.Push(ctx, rec)))
	}

	w, err := c1.OpenWindowStream(ctx, `{"time": "ts", "every": 10, "aggs": ["count() as n"], "lateness": 2}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := push(w, 1, 5, 11); len(got) != 0 {
		t.Fatalf("nothing closes at watermark 9, got %v", got)
	}
	stats, err := w.Stats(ctx)
	if err != nil || stats.Watermark == nil || *stats.Watermark != 9 || stats.RowsIn != 3 || stats.OpenWindows != 2 {
		t.Fatalf("stats %+v, %v", stats, err)
	}
	snap, err := w.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c2.RestoreWindowStream(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := r.Stats(ctx); err != nil || !reflect.DeepEqual(rs, stats) {
		t.Fatalf("restored stats %+v (%v), want %+v", rs, err, stats)
	}
	// The original and the restored stream go on alike.
	var results [2][]any
	for i, st := range []*Stream{w, r} {
		closed3 := push(st, 3, 15) // W 13: 3 is on time, [0, 10) closes with 1, 5, 3
		none12 := push(st, 12)
		none4 := push(st, 4) // late
		late := must(st.TakeLate(ctx))
		lateTs := int64s(t, late, "ts")
		late.Release()
		advanced := counts(must(st.Advance(ctx, 25))) // [10, 20): 11, 15, 12
		none27 := push(st, 27)
		finished := counts(must(st.Finish(ctx))) // [20, 30): 27
		stats, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		results[i] = []any{closed3, none12, none4, lateTs, advanced, none27, finished, *stats.Watermark, stats.RowsIn, stats.RowsLate}
	}
	want := []any{[]int64{3}, []int64{}, []int64{}, []int64{4}, []int64{3}, []int64{}, []int64{1}, int64(25), uint64(8), uint64(1)}
	if !reflect.DeepEqual(results[0], want) || !reflect.DeepEqual(results[1], want) {
		t.Fatalf("original %v\nrestored %v\nwant     %v", results[0], results[1], want)
	}

	// A rolling stream, restored half-way, gives rolling's rows.
	ro, err := c1.OpenRollingStream(ctx, `{"time": "ts", "period": 10, "aggs": ["sum(v) as s"]}`)
	if err != nil {
		t.Fatal(err)
	}
	sums := func(rec arrow.RecordBatch) []int64 {
		defer rec.Release()
		return int64s(t, rec, "s")
	}
	rec := timesRecord(mem, 1, 4, 9, 12)
	first := sums(must(ro.Push(ctx, rec)))
	rec.Release()
	snap, err = ro.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := c2.RestoreRollingStream(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Stream{ro, rr} {
		rec := timesRecord(mem, 15, 30)
		got := append(append(append([]int64{}, first...), sums(must(st.Push(ctx, rec)))...), sums(must(st.Finish(ctx)))...)
		rec.Release()
		if want := []int64{1, 5, 14, 25, 36, 30}; !reflect.DeepEqual(got, want) {
			t.Fatalf("rolling stream: %v, want %v", got, want)
		}
	}
	for _, st := range []*Stream{w, r, ro, rr} {
		if err := st.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSixteenClientsAtOnce(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			c, err := Dial(s.sock, WithAllocator(mem))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 4 {
				if err := mixedCalls(c, mem, rng, g*100+i); err != nil {
					t.Errorf("client %d, round %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// mixedCalls runs a window_agg, a rolling, a parse and a stream on c and
// checks their results (without t.Fatal: it runs in a goroutine).
func mixedCalls(c *Client, mem memory.Allocator, rng *rand.Rand, seed int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := randomRows(rng, 300+rng.IntN(700))
	rec := r.record(mem)
	defer rec.Release()
	out, err := c.WindowAgg(ctx, rec, windowSpec)
	if err != nil {
		return err
	}
	start, n, s, _ := r.windowAgg(7)
	got := [][]int64{out.Column(1).(*array.Int64).Int64Values(), out.Column(3).(*array.Int64).Int64Values(), out.Column(4).(*array.Int64).Int64Values()}
	ok := reflect.DeepEqual(got, [][]int64{start, n, s})
	out.Release()
	if !ok {
		return fmt.Errorf("window_agg differs from the brute force")
	}
	if out, err = c.Rolling(ctx, rec, rollingSpec); err != nil {
		return err
	}
	s, n = r.rolling(10)
	ok = reflect.DeepEqual([][]int64{out.Column(3).(*array.Int64).Int64Values(), out.Column(4).(*array.Int64).Int64Values()}, [][]int64{s, n})
	out.Release()
	if !ok {
		return fmt.Errorf("rolling differs from the brute force")
	}
	lines := logLines(200+seed%50, map[int]bool{seed % 50: true})
	arr := stringArray(mem, lines)
	defer arr.Release()
	if out, err = c.Parse(ctx, arr, `{"format": "common"}`); err != nil {
		return err
	}
	nrows, errs := out.NumRows(), out.Column(int(out.NumCols())-1).NullN()
	out.Release()
	if nrows != int64(len(lines)) || errs != len(lines)-1 {
		return fmt.Errorf("parse: %d rows, %d without error", nrows, errs)
	}
	st, err := c.OpenWindowStream(ctx, `{"time": "ts", "every": 7, "by": "k", "aggs": ["count() as n", "sum(v) as s"]}`)
	if err != nil {
		return err
	}
	defer st.Close(ctx)
	if out, err = st.Push(ctx, rec); err != nil {
		return err
	}
	total := out.NumRows()
	out.Release()
	if out, err = st.Finish(ctx); err != nil {
		return err
	}
	total += out.NumRows()
	out.Release()
	if total != int64(len(start)) {
		return fmt.Errorf("the stream gave %d windows, window_agg %d", total, len(start))
	}
	return nil
}

// accessLog is n common-format lines.
func accessLog(n int) []byte {
	return bytes.Repeat([]byte(`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`+"\n"), n)
}

func TestServerKilledDuringACall(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := s.dial(t, mem)
	data := accessLog(8_000_000) // about 560 MB
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		out, err := c.ParseBytes(context.Background(), data, `{"format": "common"}`)
		if out != nil {
			out.Release()
		}
		done <- err
	}()
	// Killed once the answer is coming (its rows allocated), whatever the machine's speed.
	for mem.CurrentAlloc() < 32<<20 && time.Since(start) < 30*time.Second {
		select {
		case err := <-done:
			t.Fatalf("the parse ended before the kill, in %v (%v): make it longer", time.Since(start), err)
		default:
			time.Sleep(time.Millisecond)
		}
	}
	killedAt := time.Now()
	s.kill(t)
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("got %v, want ErrConnectionLost", err)
		}
		t.Logf("%v after the kill: %v", time.Since(killedAt), err)
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not return within 10 s of the server's kill")
	}
	if _, err := c.ParseBytes(context.Background(), []byte("x"), `{"format": "common"}`); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("a call after the loss: %v, want ErrConnectionLost", err)
	}
}

func TestContextStopsACall(t *testing.T) {
	s := startServer(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := s.dial(t, mem)
	// An input long enough to stop part way on this machine: the deadline is
	// a quarter of the whole call, which takes at least 200 ms.
	var data []byte
	var full time.Duration
	for lines := 1_500_000; ; lines *= 2 {
		data = accessLog(lines)
		start := time.Now()
		out, err := c.ParseBytes(context.Background(), data, `{"format": "common"}`)
		if err != nil {
			t.Fatal(err)
		}
		out.Release()
		if full = time.Since(start); full >= 200*time.Millisecond || lines >= 24_000_000 {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), full/4)
	defer cancel()
	start := time.Now()
	out, err := c.ParseBytes(ctx, data, `{"format": "common"}`)
	if !errors.Is(err, context.DeadlineExceeded) || out != nil {
		rows := int64(-1)
		if out != nil {
			rows = out.NumRows()
			out.Release()
		}
		t.Fatalf("got a record of %d rows, %v; want context.DeadlineExceeded (the whole call took %v)", rows, err, full)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the call returned %v after its deadline", took)
	}
	if out, err := c.ParseBytes(context.Background(), nil, `{"format": "common"}`); !errors.Is(err, ErrConnectionLost) || out != nil {
		t.Fatalf("the stopped call's client: %v, %v; want ErrConnectionLost", out, err)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	c = s.dial(t, mem) // the server goes on
	if _, err := c.ParseBytes(cancelled, nil, `{"format": "common"}`); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call with a done context: %v", err)
	}
	checkWindowAgg(t, c, mem, randomRows(rand.New(rand.NewPCG(5, 6)), 100)) // which does not close the client
}

// The package builds without cgo, and does not link the cgo binding.
func TestBuildsWithoutCgo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	list, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, list)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		path, n, _ := strings.Cut(line, " ")
		if path == "github.com/sash-dev/sash/bindings-go" || (strings.HasPrefix(path, "github.com/sash-dev/") && n != "0") {
			t.Fatalf("the client depends on %s (cgo files: %s)", path, n)
		}
	}
	cmd = exec.Command(goBin, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
}

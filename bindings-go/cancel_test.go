package sash

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Cancellation through a context: long calls (hundreds of milliseconds each against the
// optimized libsash that make test-go links) stopped 50 ms in, the same calls
// left to finish, contexts done before the call, and goroutines that cancel
// their own calls only. The inputs are built once, from a checked allocator:
// each test checks that it leaves no more allocated than the inputs
// themselves (a cancelled call releases what it took, as a failed one does).

const (
	bigRows  = 8_000_000
	bigKeys  = 64
	bigLines = 4_000_000
)

var bigMem = memory.NewCheckedAllocator(memory.NewGoAllocator())

// bigInput: ts timestamp[ms] (one row a millisecond, sorted), k int64 (bigKeys
// pseudo-random keys), v float64 (pseudo-random in [0, 1)).
var bigInput = sync.OnceValue(func() arrow.RecordBatch { return keyedBatch(bigMem, bigRows, bigKeys) })

// bigLinesArray: bigLines access-log lines in a String array.
var bigLinesArray = sync.OnceValue(func() arrow.Array {
	b := array.NewStringBuilder(bigMem)
	defer b.Release()
	b.ReserveData(bigLines * len(commonLine))
	for i := 0; i < bigLines; i++ {
		b.Append(commonLine)
	}
	return b.NewArray()
})

// bigBytes: bigLines access-log lines as raw text.
var bigBytes = sync.OnceValue(func() []byte { return []byte(strings.Repeat(commonLine+"\n", bigLines)) })

func keyedBatch(mem memory.Allocator, n, keys int) arrow.RecordBatch {
	ts := make([]arrow.Timestamp, n)
	ks := make([]int64, n)
	vs := make([]float64, n)
	x := uint64(88172645463325252)
	for i := range ts {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ts[i] = arrow.Timestamp(i)
		ks[i] = int64(x % uint64(keys))
		vs[i] = float64(x>>11) / (1 << 53)
	}
	tsType := &arrow.TimestampType{Unit: arrow.Millisecond}
	tb := array.NewTimestampBuilder(mem, tsType)
	defer tb.Release()
	tb.AppendValues(ts, nil)
	kb := array.NewInt64Builder(mem)
	defer kb.Release()
	kb.AppendValues(ks, nil)
	vb := array.NewFloat64Builder(mem)
	defer vb.Release()
	vb.AppendValues(vs, nil)
	return batchOf([]arrow.Field{
		{Name: "ts", Type: tsType},
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64},
	}, []arrow.Array{tb.NewArray(), kb.NewArray(), vb.NewArray()})
}

const (
	longWindowSpec  = `{"time": "ts", "every": "1s", "by": "k", "aggs": ["quantile(v, 0.5) as q", "mean(v) as m"]}`
	longRollingSpec = `{"time": "ts", "period": "10s", "by": "k", "aggs": ["mean(v) as m", "std(v) as s", "max(v) as x"]}`
	parseSpec       = `{"format": "common"}`
)

type longCall struct {
	name string
	run  func(ctx context.Context) (arrow.RecordBatch, error)
	rows int64 // the rows of the result; 0: not checked
}

func longCalls() []longCall {
	return []longCall{
		{"WindowAgg", func(ctx context.Context) (arrow.RecordBatch, error) {
			return WindowAggContext(ctx, bigInput(), longWindowSpec)
		}, 0},
		{"Rolling", func(ctx context.Context) (arrow.RecordBatch, error) {
			return RollingContext(ctx, bigInput(), longRollingSpec)
		}, bigRows},
		{"Parse", func(ctx context.Context) (arrow.RecordBatch, error) {
			return ParseContext(ctx, bigLinesArray(), parseSpec)
		}, bigLines},
		{"ParseBytes", func(ctx context.Context) (arrow.RecordBatch, error) {
			return ParseBytesContext(ctx, bigBytes(), parseSpec)
		}, bigLines},
	}
}

// checkCancelled fails t unless err is the error of a call stopped by a
// context whose Err() is want.
func checkCancelled(t *testing.T, err, want error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCancelled {
		t.Fatalf("got %v, want a cancelled *sash.Error", err)
	}
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, want) {
		t.Errorf("%v: errors.Is(err, ErrCancelled) = %v, errors.Is(err, %v) = %v", err,
			errors.Is(err, ErrCancelled), want, errors.Is(err, want))
	}
	other := context.Canceled
	if want == context.Canceled {
		other = context.DeadlineExceeded
	}
	if errors.Is(err, other) || errors.Is(err, ErrInternal) {
		t.Errorf("%v matches %v or ErrInternal", err, other)
	}
	if !strings.Contains(e.Message, want.Error()) {
		t.Errorf("the message %q does not say %q", e.Message, want)
	}
}

// noLeak checks, at the end of a test, that bigMem holds the inputs only.
func noLeak(t *testing.T) func() {
	bigInput()
	bigLinesArray()
	before := bigMem.CurrentAlloc()
	return func() {
		if after := bigMem.CurrentAlloc(); after != before {
			t.Errorf("%d bytes allocated before the test's calls, %d after", before, after)
		}
	}
}

// A long call, left to finish under a context that is not done, succeeds;
// the same call whose context times out 50 ms in (sooner if the whole call is
// short) returns within a second,
// cancelled.
func TestCancelLongCall(t *testing.T) {
	defer noLeak(t)()
	for _, c := range longCalls() {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			start := time.Now()
			out, err := c.run(ctx)
			full := time.Since(start)
			cancel()
			if err != nil {
				t.Fatalf("uncancelled: %v", err)
			}
			rows := out.NumRows()
			out.Release()
			if rows == 0 || (c.rows != 0 && rows != c.rows) {
				t.Fatalf("uncancelled: %d rows, want %d", rows, c.rows)
			}
			// The timeout must stop the call well before its end, on a fast
			// machine too: 50 ms, or a third of the uncancelled call if that is shorter.
			timeout := min(50*time.Millisecond, full/3)
			if timeout < 20*time.Millisecond {
				t.Fatalf("the uncancelled call took %v only: make its input larger", full)
			}

			ctx, cancel = context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start = time.Now()
			out, err = c.run(ctx)
			took := time.Since(start)
			if err == nil {
				out.Release()
				t.Fatalf("finished after %v although its context timed out after %v", took, timeout)
			}
			checkCancelled(t, err, context.DeadlineExceeded)
			if took > time.Second {
				t.Errorf("cancelled 50 ms in, the call returned after %v", took)
			}
			t.Logf("uncancelled %v; cancelled %v in, returned after %v", full.Round(time.Millisecond), timeout, took.Round(time.Millisecond))
		})
	}
}

// A cancel() (context.Canceled) and a cancel cause, during the call.
func TestCancelCauses(t *testing.T) {
	defer noLeak(t)()
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(50*time.Millisecond, cancel)
	defer timer.Stop()
	out, err := WindowAggContext(ctx, bigInput(), longWindowSpec)
	if err == nil {
		out.Release()
		t.Fatal("finished although cancelled")
	}
	checkCancelled(t, err, context.Canceled)

	why := errors.New("the user closed the tab")
	ctx, cancelCause := context.WithCancelCause(context.Background())
	timer = time.AfterFunc(50*time.Millisecond, func() { cancelCause(why) })
	defer timer.Stop()
	out, err = RollingContext(ctx, bigInput(), longRollingSpec)
	if err == nil {
		out.Release()
		t.Fatal("finished although cancelled")
	}
	checkCancelled(t, err, context.Canceled)
	if !errors.Is(err, why) || !strings.Contains(err.Error(), why.Error()) {
		t.Errorf("%v does not carry the cause %q", err, why)
	}
}

// doneContext is a context cancelled already.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// A call whose context is done already returns at once, without calling
// libsash (the long calls would take seconds), whatever its input.
func TestCancelBeforeCall(t *testing.T) {
	defer noLeak(t)()
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, c := range longCalls() {
		for _, ctx := range []context.Context{doneContext(), past} {
			start := time.Now()
			out, err := c.run(ctx)
			took := time.Since(start)
			if err == nil {
				out.Release()
				t.Fatalf("%s: succeeded with a done context", c.name)
			}
			checkCancelled(t, err, ctx.Err())
			if took > 100*time.Millisecond {
				t.Errorf("%s: took %v with a done context", c.name, took)
			}
		}
	}
	// Checked before the inputs too.
	if _, err := WindowAggContext(doneContext(), nil, longWindowSpec); !errors.Is(err, context.Canceled) {
		t.Errorf("nil record, done context: %v", err)
	}
}

// lateContext is done, but the first time it is asked for its Err it says
// not yet: a context done between the package's check and its call to
// libsash, which then gets its inputs (and must release them) with the
// token already requested.
type lateContext struct {
	context.Context
	done  chan struct{}
	asked atomic.Int32
}

func newLateContext() *lateContext {
	c := &lateContext{Context: context.Background(), done: make(chan struct{})}
	close(c.done)
	return c
}

func (c *lateContext) Done() <-chan struct{} { return c.done }

func (c *lateContext) Err() error {
	if c.asked.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}

func TestCancelDoneAfterCheck(t *testing.T) {
	defer noLeak(t)()
	for _, c := range longCalls() {
		start := time.Now()
		out, err := c.run(newLateContext())
		if err == nil {
			out.Release()
			t.Fatalf("%s: succeeded with a done context", c.name)
		}
		checkCancelled(t, err, context.Canceled)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: returned after %v", c.name, took)
		}
	}
}

// Goroutines, each with its own contexts, on the same inputs: those whose
// contexts time out get cancelled, then make a plain call on the same OS
// thread, which must succeed (the thread's token was unbound); the others,
// running at the same time under contexts that are not done, all succeed
// with the right result.
func TestCancelOnlyOwnCalls(t *testing.T) {
	defer noLeak(t)()
	const goroutines, rounds = 8, 3
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	small := keyedBatch(mem, 200_000, bigKeys)
	defer small.Release()
	want, err := WindowAgg(small, longWindowSpec)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := want.NumRows()
	want.Release()

	big := bigInput()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds*2)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for r := 0; r < rounds; r++ {
				if g%2 == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(20+10*g)*time.Millisecond)
					start := time.Now()
					out, err := WindowAggContext(ctx, big, longWindowSpec)
					took := time.Since(start)
					cancel()
					var e *Error
					switch {
					case err == nil:
						out.Release()
						errs <- fmt.Errorf("goroutine %d: finished after %v although its context timed out", g, took)
					case !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || e.Kind != KindCancelled:
						errs <- fmt.Errorf("goroutine %d: %v", g, err)
					case took > 10*time.Second:
						errs <- fmt.Errorf("goroutine %d: cancelled after %v", g, took)
					}
					// Same OS thread, no context.
					if out, err := WindowAgg(small, longWindowSpec); err != nil {
						errs <- fmt.Errorf("goroutine %d: the call after a cancelled one: %v", g, err)
					} else {
						out.Release()
					}
					continue
				}
				for i := 0; i < 3; i++ {
					ctx, cancel := context.WithCancel(context.Background())
					out, err := WindowAggContext(ctx, small, longWindowSpec)
					cancel()
					if err != nil {
						errs <- fmt.Errorf("goroutine %d: %v", g, err)
						continue
					}
					if out.NumRows() != wantRows {
						errs <- fmt.Errorf("goroutine %d: %d rows, want %d", g, out.NumRows(), wantRows)
					}
					out.Release()
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The Err* sentinels and Unwrap of errors that are not cancellations.
func TestCancelledErrorShape(t *testing.T) {
	e := &Error{Kind: KindUnknownColumn, Message: "x"}
	if e.Unwrap() != nil || errors.Is(e, context.Canceled) {
		t.Error("an error that is no cancellation wraps nothing")
	}
	if errors.Is(ErrCancelled, context.Canceled) || !errors.Is(cancelled(doneContext(), "F", "stopped"), ErrCancelled) {
		t.Error("ErrCancelled matches every cancelled error, and is no context error itself")
	}
	// Error stays comparable (a struct of comparable fields).
	if *e != (Error{Kind: KindUnknownColumn, Message: "x"}) {
		t.Error("equal errors compare unequal")
	}
}

package sash

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// smallBatch is ts (timestamp[ms]), key (int32), val (float64) over n rows, one a second.
func smallBatch(mem memory.Allocator, n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
		{Name: "key", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "val", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(i * 1000))
		b.Field(1).(*array.Int32Builder).Append(int32(i % 3))
		b.Field(2).(*array.Float64Builder).Append(float64(i))
	}
	return b.NewRecordBatch()
}

// The Kind constants are libsash's status names.
func TestKindsAreStatusNames(t *testing.T) {
	for code, kind := range map[int]string{
		1: KindNullArgument, 2: KindReleased, 3: KindInvalidArray,
		10: KindUnknownColumn, 11: KindWrongType, 12: KindInvalidSpec, 13: KindInvalidDuration,
		14: KindUnknownFunction, 15: KindInvalidExpression, 16: KindNullTime, 17: KindOverflow,
		18: KindInvalidInput, 19: KindParse, 20: KindArrow, 21: KindResourceLimit, 22: KindCancelled,
		99: KindInternal,
		// Values that are no status.
		4: "unknown", 23: "unknown", 98: "unknown", -1: "unknown", 1 << 30: "unknown",
	} {
		if got := statusName(code); got != kind {
			t.Errorf("status %d is %q in libsash, %q here", code, got, kind)
		}
	}
}

func TestErrorsIs(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := smallBatch(mem, 4)
	defer rec.Release()
	_, err := WindowAgg(rec, `{"time": "nope", "every": "1m", "aggs": ["count()"]}`)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnknownColumn {
		t.Fatalf("got %v, want an unknown_column *Error", err)
	}
	if !errors.Is(err, ErrUnknownColumn) || errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("errors.Is: %v against the kind sentinels", err)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", err), ErrUnknownColumn) {
		t.Fatal("errors.Is does not see through wrapping")
	}
	if !errors.Is(err, &Error{Kind: KindUnknownColumn, Message: e.Message}) || errors.Is(err, &Error{Kind: KindUnknownColumn, Message: "other"}) {
		t.Fatal("errors.Is with a message compares it")
	}
}

// Each failing call's error carries that call's message, with 64 goroutines
// failing at once (and others succeeding in between, which clears libsash's
// thread-local message): the message is read on the thread of the call.
func TestErrorMessagesAcrossGoroutines(t *testing.T) {
	const goroutines, iterations = 64, 150
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := smallBatch(mem, 8)
	defer rec.Release()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < iterations; i++ {
				col := fmt.Sprintf("g%d_i%d", g, i)
				_, err := WindowAgg(rec, `{"time": "`+col+`", "every": "1m", "aggs": ["count()"]}`)
				var e *Error
				if !errors.As(err, &e) || e.Kind != KindUnknownColumn || !strings.Contains(e.Message, "'"+col+"'") {
					mu.Lock()
					if wrong < 10 {
						t.Errorf("goroutine %d call %d (column %s): got %v", g, i, col, err)
					}
					wrong++
					mu.Unlock()
				}
				if i%4 == 0 {
					out, err := WindowAgg(rec, `{"time": "ts", "every": "2s", "aggs": ["count() as n"]}`)
					if err != nil {
						t.Errorf("goroutine %d: %v", g, err)
						continue
					}
					out.Release()
				}
			}
		}(g)
	}
	wg.Wait()
	if wrong > 0 {
		t.Fatalf("%d of %d errors had another call's message", wrong, goroutines*iterations)
	}
}

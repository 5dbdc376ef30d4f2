package sash

/*
#include <stdlib.h>
#include "sash.h"
*/
import "C"

import (
	"context"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
)

// WindowStream is a tumbling, hopping or session window aggregation over
// record batches pushed one after another, for input that never stops
// arriving: each window is returned once the watermark (the largest time
// pushed minus the spec's "lateness") passes its end (docs/semantics.md,
// "Streaming"). A failed call leaves the stream as it was. Safe for use by
// several goroutines (calls are serialized); Close frees it.
type WindowStream struct {
	stream
}

// RollingStream is a rolling aggregation over record batches pushed one
// after another: each row's result is returned once the watermark passes
// its time, rows by time (ties in arrival order). Methods, errors and
// goroutine safety as [WindowStream]'s.
type RollingStream struct {
	stream
}

// streamOps are the C entry points of one kind of stream, on its handle.
type streamOps struct {
	push      func(h unsafe.Pointer, a *C.struct_ArrowArray, s *C.struct_ArrowSchema, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status
	advance   func(h unsafe.Pointer, w C.int64_t, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status
	finish    func(h unsafe.Pointer, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status
	takeLate  func(h unsafe.Pointer, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status
	snapshot  func(h unsafe.Pointer, p **C.uint8_t, n *C.size_t) C.sash_status
	watermark func(h unsafe.Pointer, w *C.int64_t, has *C.bool) C.sash_status
	stats     func(h unsafe.Pointer, out *C.sash_stream_stats) C.sash_status
	free      func(h unsafe.Pointer)
}

var windowOps = &streamOps{
	push: func(h unsafe.Pointer, a *C.struct_ArrowArray, s *C.struct_ArrowSchema, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_push((*C.sash_window_stream)(h), a, s, o, os)
	},
	advance: func(h unsafe.Pointer, w C.int64_t, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_advance((*C.sash_window_stream)(h), w, o, os)
	},
	finish: func(h unsafe.Pointer, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_finish((*C.sash_window_stream)(h), o, os)
	},
	takeLate: func(h unsafe.Pointer, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_take_late((*C.sash_window_stream)(h), o, os)
	},
	snapshot: func(h unsafe.Pointer, p **C.uint8_t, n *C.size_t) C.sash_status {
		return C.sash_window_stream_snapshot((*C.sash_window_stream)(h), p, n)
	},
	watermark: func(h unsafe.Pointer, w *C.int64_t, has *C.bool) C.sash_status {
		return C.sash_window_stream_watermark((*C.sash_window_stream)(h), w, has)
	},
	stats: func(h unsafe.Pointer, out *C.sash_stream_stats) C.sash_status {
		return C.sash_window_stream_stats((*C.sash_window_stream)(h), out)
	},
	free: func(h unsafe.Pointer) { C.sash_window_stream_free((*C.sash_window_stream)(h)) },
}

var rollingOps = &streamOps{
	push: func(h unsafe.Pointer, a *C.struct_ArrowArray, s *C.struct_ArrowSchema, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_rolling_stream_push((*C.sash_rolling_stream_handle)(h), a, s, o, os)
	},
	advance: func(h unsafe.Pointer, w C.int64_t, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_rolling_stream_advance((*C.sash_rolling_stream_handle)(h), w, o, os)
	},
	finish: func(h unsafe.Pointer, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_rolling_stream_finish((*C.sash_rolling_stream_handle)(h), o, os)
	},
	takeLate: func(h unsafe.Pointer, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_rolling_stream_take_late((*C.sash_rolling_stream_handle)(h), o, os)
	},
	snapshot: func(h unsafe.Pointer, p **C.uint8_t, n *C.size_t) C.sash_status {
		return C.sash_rolling_stream_snapshot((*C.sash_rolling_stream_handle)(h), p, n)
	},
	watermark: func(h unsafe.Pointer, w *C.int64_t, has *C.bool) C.sash_status {
		return C.sash_rolling_stream_watermark((*C.sash_rolling_stream_handle)(h), w, has)
	},
	stats: func(h unsafe.Pointer, out *C.sash_stream_stats) C.sash_status {
		return C.sash_rolling_stream_stats((*C.sash_rolling_stream_handle)(h), out)
	},
	free: func(h unsafe.Pointer) { C.sash_rolling_stream_free((*C.sash_rolling_stream_handle)(h)) },
}

// stream is what both kinds share: the handle, its lock and its entry points.
type stream struct {
	mu   sync.Mutex
	h    unsafe.Pointer
	name string
	ops  *streamOps
}

// NewWindowStream makes a stream for spec: a JSON window spec as
// [WindowAgg] takes it, with optional "lateness" (a duration, default 0)
// and "max_state_bytes".
func NewWindowStream(spec string) (*WindowStream, error) {
	cspec, err := cSpec(spec)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cspec))
	var out *C.sash_window_stream
	if err := call(context.Background(), "NewWindowStream", func() C.sash_status { return C.sash_window_stream_new(cspec, &out) }); err != nil {
		return nil, err
	}
	return &WindowStream{stream{h: unsafe.Pointer(out), name: "WindowStream", ops: windowOps}}, nil
}

// NewRollingStream makes a stream for spec: a JSON rolling spec as
// [Rolling] takes it, with optional "lateness" and "max_state_bytes".
func NewRollingStream(spec string) (*RollingStream, error) {
	cspec, err := cSpec(spec)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cspec))
	var out *C.sash_rolling_stream_handle
	if err := call(context.Background(), "NewRollingStream", func() C.sash_status { return C.sash_rolling_stream_new(cspec, &out) }); err != nil {
		return nil, err
	}
	return &RollingStream{stream{h: unsafe.Pointer(out), name: "RollingStream", ops: rollingOps}}, nil
}

// cSnapshot copies a snapshot into C memory for a restore (nil when empty).
func cSnapshot(snapshot []byte) *C.uint8_t {
	if len(snapshot) == 0 {
		return nil
	}
	return (*C.uint8_t)(C.CBytes(snapshot))
}

// RestoreWindowStream rebuilds the stream a [WindowStream.Snapshot] was
// taken of (in this process or another, in any language).
func RestoreWindowStream(snapshot []byte) (*WindowStream, error) {
	p := cSnapshot(snapshot)
	defer C.free(unsafe.Pointer(p))
	var out *C.sash_window_stream
	if err := call(context.Background(), "RestoreWindowStream", func() C.sash_status {
		return C.sash_window_stream_restore(p, C.size_t(len(snapshot)), &out)
	}); err != nil {
		return nil, err
	}
	return &WindowStream{stream{h: unsafe.Pointer(out), name: "WindowStream", ops: windowOps}}, nil
}

// RestoreRollingStream rebuilds the stream a [RollingStream.Snapshot] was taken of.
func RestoreRollingStream(snapshot []byte) (*RollingStream, error) {
	p := cSnapshot(snapshot)
	defer C.free(unsafe.Pointer(p))
	var out *C.sash_rolling_stream_handle
	if err := call(context.Background(), "RestoreRollingStream", func() C.sash_status {
		return C.sash_rolling_stream_restore(p, C.size_t(len(snapshot)), &out)
	}); err != nil {
		return nil, err
	}
	return &RollingStream{stream{h: unsafe.Pointer(out), name: "RollingStream", ops: rollingOps}}, nil
}

func (w *stream) closedError(name string) error {
	return &Error{Kind: KindNullArgument, Message: name + ": the stream is closed"}
}

// Push takes the rows of rec (which stays the caller's) and returns the
// results this push made final (windows closed, or rows passed), possibly
// none, as a new record batch.
func (w *stream) Push(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := w.name + ".Push"
	if w.h == nil {
		return nil, w.closedError(name)
	}
	return callBatch(context.Background(), name, func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, _ *C.char, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return w.ops.push(w.h, a, s, o, os)
	}, rec, "")
}

// output runs a call that writes one record batch.
func (w *stream) output(name string, fn func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status) (arrow.RecordBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name = w.name + name
	if w.h == nil {
		return nil, w.closedError(name)
	}
	s := newStructs()
	defer s.free()
	if err := call(context.Background(), name, func() C.sash_status { return fn(s.out, s.outSch) }); err != nil {
		return nil, err
	}
	return s.importOutput()
}

// Advance moves the watermark to watermark (ticks of the time column) if
// that is later, and returns the results that became final.
func (w *stream) Advance(watermark int64) (arrow.RecordBatch, error) {
	return w.output(".Advance", func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return w.ops.advance(w.h, C.int64_t(watermark), o, os)
	})
}

// Finish ends the input and returns every open result; later pushes fail.
func (w *stream) Finish() (arrow.RecordBatch, error) {
	return w.output(".Finish", func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return w.ops.finish(w.h, o, os)
	})
}

// TakeLate returns the rows that came too late to count, in arrival order,
// and clears them.
func (w *stream) TakeLate() (arrow.RecordBatch, error) {
	return w.output(".TakeLate", func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return w.ops.takeLate(w.h, o, os)
	})
}

// Snapshot returns the whole state as bytes, for the matching Restore function.
func (w *stream) Snapshot() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := w.name + ".Snapshot"
	if w.h == nil {
		return nil, w.closedError(name)
	}
	var p *C.uint8_t
	var n C.size_t
	if err := call(context.Background(), name, func() C.sash_status { return w.ops.snapshot(w.h, &p, &n) }); err != nil {
		return nil, err
	}
	defer C.sash_bytes_free(p, n)
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), nil
}

// Watermark returns the watermark in ticks of the time column; ok is false
// until a push with a time or an Advance sets it (it starts below every time).
func (w *stream) Watermark() (watermark int64, ok bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := w.name + ".Watermark"
	if w.h == nil {
		return 0, false, w.closedError(name)
	}
	var wm C.int64_t
	var has C.bool
	if err := call(context.Background(), name, func() C.sash_status { return w.ops.watermark(w.h, &wm, &has) }); err != nil {
		return 0, false, err
	}
	if !bool(has) {
		return 0, false, nil
	}
	return int64(wm), true, nil
}

// StreamStats is what a stream has seen (see [WindowStream.Stats]).
type StreamStats struct {
	// RowsIn counts the rows pushed, late ones and dropped null times included.
	RowsIn uint64
	// RowsLate counts the rows that came too late to count (see TakeLate).
	RowsLate uint64
	// NullTimesDropped counts the rows left out for a null time under null_time "drop".
	NullTimesDropped uint64
	// OpenWindows counts the open states: (keys, pane) of tumbling and
	// hopping windows, (keys, session) of sessions; for a RollingStream, the
	// rows whose result is not returned yet.
	OpenWindows uint64
	// StateBytes is what the open states and the untaken late rows hold.
	StateBytes uint64
}

// Stats returns the stream's counters.
func (w *stream) Stats() (StreamStats, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := w.name + ".Stats"
	if w.h == nil {
		return StreamStats{}, w.closedError(name)
	}
	var out C.sash_stream_stats
	if err := call(context.Background(), name, func() C.sash_status { return w.ops.stats(w.h, &out) }); err != nil {
		return StreamStats{}, err
	}
	return StreamStats{
		RowsIn:           uint64(out.rows_in),
		RowsLate:         uint64(out.rows_late),
		NullTimesDropped: uint64(out.null_times_dropped),
		OpenWindows:      uint64(out.open_windows),
		StateBytes:       uint64(out.state_bytes),
	}, nil
}

// Close frees the stream; calls after it fail. Closing twice is harmless.
func (w *stream) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h != nil {
		w.ops.free(w.h)
	}
	w.h = nil
	return nil
}

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

// WindowStream is a tumbling or hopping window aggregation over record
// batches pushed one after another, for input that never stops arriving:
// each window is returned once the watermark (the largest time pushed minus
// the spec's "lateness") passes its end (docs/semantics.md, "Streaming").
// A failed call leaves the stream as it was. Safe for use by several
// goroutines (calls are serialized); Close frees it.
type WindowStream struct {
	mu sync.Mutex
	s  *C.sash_window_stream
}

// NewWindowStream makes a stream for spec: a JSON window spec as
// [WindowAgg] takes it, with an optional "lateness" (a duration, default 0).
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
	return &WindowStream{s: out}, nil
}

// RestoreWindowStream rebuilds the stream a [WindowStream.Snapshot] was
// taken of (in this process or another, in any language).
func RestoreWindowStream(snapshot []byte) (*WindowStream, error) {
	var p *C.uint8_t
	if len(snapshot) > 0 {
		p = (*C.uint8_t)(C.CBytes(snapshot))
		defer C.free(unsafe.Pointer(p))
	}
	var out *C.sash_window_stream
	if err := call(context.Background(), "RestoreWindowStream", func() C.sash_status {
		return C.sash_window_stream_restore(p, C.size_t(len(snapshot)), &out)
	}); err != nil {
		return nil, err
	}
	return &WindowStream{s: out}, nil
}

func (w *WindowStream) closedError(name string) error {
	return &Error{Kind: KindNullArgument, Message: name + ": the stream is closed"}
}

// Push takes the rows of rec (which stays the caller's) and returns the
// windows this push closed, possibly none, as a new record batch.
func (w *WindowStream) Push(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s == nil {
		return nil, w.closedError("WindowStream.Push")
	}
	return callBatch(context.Background(), "WindowStream.Push", func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, _ *C.char, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_push(w.s, a, s, o, os)
	}, rec, "")
}

// output runs a call that writes one record batch.
func (w *WindowStream) output(name string, fn func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status) (arrow.RecordBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s == nil {
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
// that is later, and returns the windows that closed.
func (w *WindowStream) Advance(watermark int64) (arrow.RecordBatch, error) {
	return w.output("WindowStream.Advance", func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_advance(w.s, C.int64_t(watermark), o, os)
	})
}

// Finish ends the input and returns every open window; later pushes fail.
func (w *WindowStream) Finish() (arrow.RecordBatch, error) {
	return w.output("WindowStream.Finish", func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_finish(w.s, o, os)
	})
}

// TakeLate returns the rows that came too late to count in any window, in
// arrival order, and clears them.
func (w *WindowStream) TakeLate() (arrow.RecordBatch, error) {
	return w.output("WindowStream.TakeLate", func(o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_stream_take_late(w.s, o, os)
	})
}

// Snapshot returns the whole state as bytes, for [RestoreWindowStream].
func (w *WindowStream) Snapshot() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.s == nil {
		return nil, w.closedError("WindowStream.Snapshot")
	}
	var p *C.uint8_t
	var n C.size_t
	if err := call(context.Background(), "WindowStream.Snapshot", func() C.sash_status {
		return C.sash_window_stream_snapshot(w.s, &p, &n)
	}); err != nil {
		return nil, err
	}
	defer C.sash_bytes_free(p, n)
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), nil
}

// Close frees the stream; calls after it fail. Closing twice is harmless.
func (w *WindowStream) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	C.sash_window_stream_free(w.s)
	w.s = nil
	return nil
}

package sash

/*
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include "sash.h"
*/
import "C"

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// Version is the version of the linked libsash, e.g. "0.1.0".
func Version() string { return C.GoString(C.sash_version()) }

// SetThreads sets how many threads sash's kernels use, for the whole process
// (every goroutine calling sash shares them, so many callers at once do not
// oversubscribe the machine); 0 goes back to the default: the
// SASH_MAX_THREADS environment variable, else the cores the process may use.
// The count never changes a result, only how fast it comes. Calls already
// running finish on the threads they started with. An error of kind
// invalid_input for a count below 0 or above 1024.
func SetThreads(n int) error {
	if n < 0 {
		return &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("invalid input: threads must be from 0 (the default) to 1024, got %d", n)}
	}
	return call(context.Background(), "SetThreads", func() C.sash_status { return C.sash_set_threads(C.size_t(n)) })
}

// Threads is how many threads sash's kernels use (see SetThreads).
func Threads() int { return int(C.sash_get_threads()) }

// statusName is libsash's name of a status code (tests compare it with the Kind constants).
func statusName(code int) string { return C.GoString(C.sash_status_name(C.int(code))) }

// call runs one libsash call and, if it fails, reads its message. libsash
// keeps the message in a thread-local, so the call and the read must run on
// the same OS thread with no other goroutine's sash call between them: the
// goroutine is locked to its thread for both. Every call site goes through
// here.
//
// A ctx that can be done (ctx.Done() != nil) is watched for the call: a
// cancel token is bound to the locked thread, so that libsash checks it
// between chunks of work, and requested when ctx is done, which makes the
// call return SASH_STATUS_CANCELLED. A ctx that is never done (Background)
// costs nothing. The caller has checked that ctx was not done yet (see
// ctxDone) before giving libsash its inputs; if it is done by now, libsash
// is still called, to take them (and release them), and stops at a check
// soon after the request.
func call(ctx context.Context, name string, fn func() C.sash_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var st C.sash_status
	if ctx.Done() == nil {
		st = fn()
	} else {
		st = callCancellable(ctx, fn)
	}
	if st == C.SASH_STATUS_OK {
		return nil
	}
	msg := C.GoString(C.sash_last_error_message())
	if st == C.SASH_STATUS_CANCELLED && ctx.Err() != nil {
		return cancelled(ctx, name, msg)
	}
	return &Error{Kind: C.GoString(C.sash_status_name(C.int(st))), Message: msg}
}

// callCancellable runs fn (on the locked thread) with a cancel token bound
// to the thread that is requested when ctx is done.
func callCancellable(ctx context.Context, fn func() C.sash_status) C.sash_status {
	tok := C.sash_cancel_new()
	requested := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.sash_cancel_request(tok)
		close(requested)
	})
	C.sash_cancel_bind(tok)
	st := fn()
	C.sash_cancel_bind(nil)
	if !stop() {
		// The request has started: let it finish before the token is freed.
		<-requested
	}
	C.sash_cancel_free(tok)
	return st
}

// ctxDone is the error of a call whose ctx is done before it starts (nil if
// it is not): such a call returns without calling libsash.
func ctxDone(ctx context.Context, name string) error {
	if ctx.Err() == nil {
		return nil
	}
	return cancelled(ctx, name, "cancelled before the call")
}

// isNil is true for a nil interface and for an interface holding a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// cSpec copies a spec into C memory (the caller frees it). A NUL byte would
// end the C string early and sash would read a shorter spec: it is an error.
func cSpec(spec string) (*C.char, error) {
	if i := strings.IndexByte(spec, 0); i >= 0 {
		return nil, &Error{Kind: KindInvalidSpec, Message: fmt.Sprintf("the spec holds a NUL byte at byte %d (specs are NUL-terminated C strings)", i)}
	}
	return C.CString(spec), nil
}

// cStructs are the C-allocated input and output structs of one call.
type cStructs struct {
	in     *C.struct_ArrowArray
	inSch  *C.struct_ArrowSchema
	out    *C.struct_ArrowArray
	outSch *C.struct_ArrowSchema
}

func newStructs() cStructs {
	return cStructs{
		in:     (*C.struct_ArrowArray)(C.calloc(1, C.sizeof_struct_ArrowArray)),
		inSch:  (*C.struct_ArrowSchema)(C.calloc(1, C.sizeof_struct_ArrowSchema)),
		out:    (*C.struct_ArrowArray)(C.calloc(1, C.sizeof_struct_ArrowArray)),
		outSch: (*C.struct_ArrowSchema)(C.calloc(1, C.sizeof_struct_ArrowSchema)),
	}
}

func (s cStructs) free() {
	C.free(unsafe.Pointer(s.in))
	C.free(unsafe.Pointer(s.inSch))
	C.free(unsafe.Pointer(s.out))
	C.free(unsafe.Pointer(s.outSch))
}

func (s cStructs) importOutput() (arrow.RecordBatch, error) {
	return cdata.ImportCRecordBatch((*cdata.CArrowArray)(unsafe.Pointer(s.out)), (*cdata.CArrowSchema)(unsafe.Pointer(s.outSch)))
}

type batchFn func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, spec *C.char, out *C.struct_ArrowArray, outS *C.struct_ArrowSchema) C.sash_status

func callBatch(ctx context.Context, name string, fn batchFn, rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	// Before the export: once exported, the input must be given to libsash.
	if err := ctxDone(ctx, name); err != nil {
		return nil, err
	}
	if isNil(rec) {
		return nil, &Error{Kind: KindNullArgument, Message: name + ": the record batch is nil"}
	}
	cspec, err := cSpec(spec)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cspec))
	s := newStructs()
	defer s.free()
	// The export retains rec; sash takes the exported struct whatever the
	// result and releases it (at once, or with the output).
	cdata.ExportArrowRecordBatch(rec, (*cdata.CArrowArray)(unsafe.Pointer(s.in)), (*cdata.CArrowSchema)(unsafe.Pointer(s.inSch)))
	if err := call(ctx, name, func() C.sash_status { return fn(s.in, s.inSch, cspec, s.out, s.outSch) }); err != nil {
		return nil, err
	}
	return s.importOutput()
}

// WindowAgg runs a windowed aggregation (tumbling, hopping or session) over
// one record batch. spec is the JSON window spec of docs/semantics.md, e.g.
// {"time": "ts", "every": "1m", "by": "key", "aggs": ["count() as n"]}.
// rec is not modified and stays the caller's (release it as usual); the
// result is a new record batch the caller releases.
func WindowAgg(rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return WindowAggContext(context.Background(), rec, spec)
}

// WindowAggContext is [WindowAgg], stopped when ctx is done: it then returns
// an error of kind [KindCancelled] that also matches ctx.Err() under
// errors.Is (context.Canceled or context.DeadlineExceeded), soon after ctx
// is done (libsash checks between chunks of a few thousand rows). A ctx
// already done returns that error at once, without calling libsash.
func WindowAggContext(ctx context.Context, rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return callBatch(ctx, "WindowAgg", func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, sp *C.char, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_agg(a, s, sp, o, os)
	}, rec, spec)
}

// Rolling runs a rolling aggregation over one record batch: one output row
// per input row, in input order (the input columns, then the aggregates).
// Arguments and result as for WindowAgg.
func Rolling(rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return RollingContext(context.Background(), rec, spec)
}

// RollingContext is [Rolling], stopped when ctx is done (see [WindowAggContext]).
func RollingContext(ctx context.Context, rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return callBatch(ctx, "Rolling", func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, sp *C.char, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_rolling(a, s, sp, o, os)
	}, rec, spec)
}

// Parse parses each element of a string or binary array (String, LargeString,
// StringView, Binary, LargeBinary) as one log line. spec is the JSON parse
// spec of docs/parsing.md, e.g. {"format": "combined"}. The result holds the
// format's columns, then _error (null where the line parsed); its string
// columns may point into lines' buffers, which it keeps alive until released.
func Parse(lines arrow.Array, spec string) (arrow.RecordBatch, error) {
	return ParseContext(context.Background(), lines, spec)
}

// ParseContext is [Parse], stopped when ctx is done (see [WindowAggContext];
// libsash checks between chunks of some thousand lines).
func ParseContext(ctx context.Context, lines arrow.Array, spec string) (arrow.RecordBatch, error) {
	if err := ctxDone(ctx, "Parse"); err != nil {
		return nil, err
	}
	if isNil(lines) {
		return nil, &Error{Kind: KindNullArgument, Message: "Parse: the array of lines is nil"}
	}
	cspec, err := cSpec(spec)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cspec))
	s := newStructs()
	defer s.free()
	cdata.ExportArrowArray(lines, (*cdata.CArrowArray)(unsafe.Pointer(s.in)), (*cdata.CArrowSchema)(unsafe.Pointer(s.inSch)))
	if err := call(ctx, "Parse", func() C.sash_status { return C.sash_parse(s.in, s.inSch, cspec, s.out, s.outSch) }); err != nil {
		return nil, err
	}
	return s.importOutput()
}

// ParseBytes parses raw log text, split into lines at LF, CRLF or a lone CR.
// Gzip-compressed data (told by its first two bytes) is decompressed first.
// data is only read during the call (sash copies it). Result as for Parse.
func ParseBytes(data []byte, spec string) (arrow.RecordBatch, error) {
	return ParseBytesContext(context.Background(), data, spec)
}

// ParseBytesContext is [ParseBytes], stopped when ctx is done (see
// [WindowAggContext] and [ParseContext]; decompressing gzip data is not
// checked, its parse is).
func ParseBytesContext(ctx context.Context, data []byte, spec string) (arrow.RecordBatch, error) {
	if err := ctxDone(ctx, "ParseBytes"); err != nil {
		return nil, err
	}
	cspec, err := cSpec(spec)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cspec))
	s := newStructs()
	defer s.free()
	var ptr *C.uint8_t
	if len(data) > 0 {
		ptr = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	if err := call(ctx, "ParseBytes", func() C.sash_status {
		return C.sash_parse_bytes(ptr, C.size_t(len(data)), cspec, s.out, s.outSch)
	}); err != nil {
		return nil, err
	}
	return s.importOutput()
}

// Package sash calls libsash (the C binding of sash) through cgo, moving
// Apache Arrow Go data in and out with the Arrow C Data Interface (cdata):
// no copies of the columns on either side.
//
// Build with CGO_CFLAGS=-I<sash>/include and CGO_LDFLAGS pointing at
// libsash.a or libsash.so (`make test-c` does; after `make install`,
// `pkg-config --cflags --libs sash` gives them).
package sash

/*
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include "sash.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// Error is a failed sash call: the status name (the corpus' error kinds,
// e.g. "unknown_column") and sash's message.
type Error struct {
	Kind    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("sash: %s: %s", e.Kind, e.Message) }

// Version is the version of the linked libsash.
func Version() string { return C.GoString(C.sash_version()) }

func lastError(st C.sash_status) error {
	return &Error{Kind: C.GoString(C.sash_status_name(st)), Message: C.GoString(C.sash_last_error_message())}
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

type singleFn func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, spec *C.char, out *C.struct_ArrowArray, outS *C.struct_ArrowSchema) C.sash_status

func callBatch(fn singleFn, rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	s := newStructs()
	defer s.free()
	cdata.ExportArrowRecordBatch(rec, (*cdata.CArrowArray)(unsafe.Pointer(s.in)), (*cdata.CArrowSchema)(unsafe.Pointer(s.inSch)))
	cspec := C.CString(spec)
	defer C.free(unsafe.Pointer(cspec))
	// sash takes the exported input whatever the result.
	if st := fn(s.in, s.inSch, cspec, s.out, s.outSch); st != C.SASH_STATUS_OK {
		return nil, lastError(st)
	}
	return s.importOutput()
}

// WindowAgg runs a windowed aggregation (spec: the JSON window spec) over one record batch.
func WindowAgg(rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return callBatch(func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, sp *C.char, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_window_agg(a, s, sp, o, os)
	}, rec, spec)
}

// Rolling runs a rolling aggregation over one record batch.
func Rolling(rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return callBatch(func(a *C.struct_ArrowArray, s *C.struct_ArrowSchema, sp *C.char, o *C.struct_ArrowArray, os *C.struct_ArrowSchema) C.sash_status {
		return C.sash_rolling(a, s, sp, o, os)
	}, rec, spec)
}

// Parse parses each element of a string array as one log line (spec: the JSON parse spec).
func Parse(lines arrow.Array, spec string) (arrow.RecordBatch, error) {
	s := newStructs()
	defer s.free()
	cdata.ExportArrowArray(lines, (*cdata.CArrowArray)(unsafe.Pointer(s.in)), (*cdata.CArrowSchema)(unsafe.Pointer(s.inSch)))
	cspec := C.CString(spec)
	defer C.free(unsafe.Pointer(cspec))
	if st := C.sash_parse(s.in, s.inSch, cspec, s.out, s.outSch); st != C.SASH_STATUS_OK {
		return nil, lastError(st)
	}
	return s.importOutput()
}

// ParseBytes parses raw log text, split into lines.
func ParseBytes(data []byte, spec string) (arrow.RecordBatch, error) {
	s := newStructs()
	defer s.free()
	cspec := C.CString(spec)
	defer C.free(unsafe.Pointer(cspec))
	var ptr *C.uint8_t
	if len(data) > 0 {
		// sash only reads the bytes during the call (it copies them).
		ptr = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	if st := C.sash_parse_bytes(ptr, C.size_t(len(data)), cspec, s.out, s.outSch); st != C.SASH_STATUS_OK {
		return nil, lastError(st)
	}
	return s.importOutput()
}

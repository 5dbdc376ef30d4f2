package sash

import (
	"context"
	"fmt"
)

// The kinds of an [Error]: the names libsash's sash_status_name gives its
// statuses, which are also the conformance corpus' error kinds
// (docs/semantics.md, docs/parsing.md, bindings-c/README.md). A libsash
// newer than this package may return a kind not listed here; Kind then holds
// its name all the same.
const (
	// A required argument was missing: a nil record batch or array. The Go
	// side reports it before calling libsash, with the same kind libsash
	// gives a NULL pointer.
	KindNullArgument = "null_argument"
	// An input was already released.
	KindReleased = "released"
	// An input array does not follow the Arrow C Data Interface or its
	// declared type (e.g. a string array holding invalid UTF-8).
	KindInvalidArray = "invalid_array"
	// A column named in the spec is not in the input.
	KindUnknownColumn = "unknown_column"
	// A column has a type the operation cannot take.
	KindWrongType = "wrong_type"
	// The spec is not valid JSON, has unknown keys, or is inconsistent or
	// incomplete. A spec holding a NUL byte is reported by the Go side with
	// this kind (the C API reads specs as NUL-terminated strings).
	KindInvalidSpec = "invalid_spec"
	// A duration cannot be parsed ("1x", "1M") or does not fit the time column.
	KindInvalidDuration = "invalid_duration"
	// An aggregation names a function sash does not know.
	KindUnknownFunction = "unknown_function"
	// An aggregation expression does not follow the grammar.
	KindInvalidExpression = "invalid_expression"
	// The time column holds nulls and the spec's null_time is "error".
	KindNullTime = "null_time"
	// An integer result does not fit its type.
	KindOverflow = "overflow"
	// The input data is unusable (e.g. a corrupt gzip stream given to ParseBytes).
	KindInvalidInput = "invalid_input"
	// A line did not parse and the parse spec says on_error: "raise".
	KindParse = "parse"
	// An error raised by arrow-rs.
	KindArrow = "arrow"
	// The call would exceed one of sash's resource limits (docs/limits.md):
	// a hopping spec putting each row in too many windows, a gzip input
	// decompressing past max_decompressed_bytes, ...
	KindResourceLimit = "resource_limit"
	// The call was stopped by its context (WindowAggContext, ...). Such an
	// error also matches the context's error: errors.Is(err,
	// context.Canceled) or errors.Is(err, context.DeadlineExceeded).
	KindCancelled = "cancelled"
	// A bug in sash: the kernel panicked (and libsash caught it).
	KindInternal = "internal"
)

// Error is a failed sash call: its kind (one of the Kind constants) and
// sash's message, which names the problem (e.g. "unknown column 'ts'; ...").
//
// errors.Is(err, sash.ErrUnknownColumn) (or any Err* value below, or any
// *Error with an empty Message) is true for every *Error of that kind,
// whatever its message.
//
// A call stopped by its context gives an Error of kind [KindCancelled] that
// wraps the context's error (and its cause, see [context.Cause], when that
// differs): errors.Is(err, sash.ErrCancelled) and errors.Is(err,
// context.Canceled) (or context.DeadlineExceeded) both hold.
type Error struct {
	Kind    string
	Message string
	// What a cancelled call wraps: the context's error, and its cause when
	// that differs (nil otherwise). Not a slice, so that Error stays comparable.
	ctxErr, cause error
}

func (e *Error) Error() string { return fmt.Sprintf("sash: %s: %s", e.Kind, e.Message) }

// Unwrap gives the context's error (and its cause, if different) of an
// error of kind [KindCancelled]; nil for the others.
func (e *Error) Unwrap() []error {
	switch {
	case e.ctxErr == nil:
		return nil
	case e.cause == nil:
		return []error{e.ctxErr}
	}
	return []error{e.ctxErr, e.cause}
}

// cancelled is the error of a call stopped by ctx (ctx is done): kind
// cancelled, wrapping ctx.Err() and context.Cause(ctx). what says how far
// the call got, e.g. sash's message.
func cancelled(ctx context.Context, name, what string) *Error {
	e := &Error{Kind: KindCancelled, ctxErr: ctx.Err()}
	e.Message = fmt.Sprintf("%s: %s: %v", name, what, e.ctxErr)
	if cause := context.Cause(ctx); cause != nil && cause != e.ctxErr {
		e.cause = cause
		e.Message += fmt.Sprintf(" (%v)", cause)
	}
	return e
}

// Is reports whether target is an *Error of the same kind whose Message is
// empty (a kind sentinel such as ErrInvalidSpec) or equal to e's.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for errors.Is, one per kind.
var (
	ErrNullArgument      = &Error{Kind: KindNullArgument}
	ErrReleased          = &Error{Kind: KindReleased}
	ErrInvalidArray      = &Error{Kind: KindInvalidArray}
	ErrUnknownColumn     = &Error{Kind: KindUnknownColumn}
	ErrWrongType         = &Error{Kind: KindWrongType}
	ErrInvalidSpec       = &Error{Kind: KindInvalidSpec}
	ErrInvalidDuration   = &Error{Kind: KindInvalidDuration}
	ErrUnknownFunction   = &Error{Kind: KindUnknownFunction}
	ErrInvalidExpression = &Error{Kind: KindInvalidExpression}
	ErrNullTime          = &Error{Kind: KindNullTime}
	ErrOverflow          = &Error{Kind: KindOverflow}
	ErrInvalidInput      = &Error{Kind: KindInvalidInput}
	ErrParse             = &Error{Kind: KindParse}
	ErrArrow             = &Error{Kind: KindArrow}
	ErrResourceLimit     = &Error{Kind: KindResourceLimit}
	ErrCancelled         = &Error{Kind: KindCancelled}
	ErrInternal          = &Error{Kind: KindInternal}
)

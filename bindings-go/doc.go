// Package sash is the Go binding of sash: windowed and rolling aggregation
// (tumbling, hopping, session and rolling windows, grouped by keys) and log
// parsing (access logs, syslog, logfmt, JSON lines, regex) over Apache Arrow
// Go record batches, with the same semantics and results as sash from Python,
// C and the JVM.
//
// It calls libsash, the C library of sash, through cgo, and moves the
// columns in and out with the Arrow C Data Interface
// (github.com/apache/arrow-go/v18/arrow/cdata): no copies of the columns on
// either side. Build against an installed libsash:
//
//	make install PREFIX=/opt/sash          # in the sash repository
//	export PKG_CONFIG_PATH=/opt/sash/lib/pkgconfig
//	CGO_CFLAGS="$(pkg-config --cflags sash)" CGO_LDFLAGS="$(pkg-config --libs sash)" go build ./...
//
// # Functions
//
// [WindowAgg] and [Rolling] take a record batch and a JSON window spec
// (docs/semantics.md); [Parse] takes a string or binary array of lines and
// [ParseBytes] raw log bytes (gzip too), with a JSON parse spec
// (docs/parsing.md). Each returns a new record batch, which the caller
// releases. Inputs are only read: the caller keeps and releases them.
//
// # Errors
//
// Every failure is an *[Error] whose Kind is one of the Kind constants
// ([KindUnknownColumn], [KindInvalidSpec], ...) and whose Message is sash's,
// naming the problem. errors.Is(err, [ErrUnknownColumn]) tests the kind. A
// nil input is a [KindNullArgument] error and a spec holding a NUL byte a
// [KindInvalidSpec] error, reported before libsash is called.
//
// # Cancellation
//
// [WindowAggContext], [RollingContext], [ParseContext] and
// [ParseBytesContext] take a context.Context: when it is done, the call stops
// soon after (libsash checks between chunks of work) and returns an *[Error]
// of kind [KindCancelled] that wraps the context's error, so that both
// errors.Is(err, [ErrCancelled]) and errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) hold. A context done before the call returns that
// error without calling libsash. The functions without Context use
// context.Background(), which costs nothing.
//
// # Threads
//
// Every function may be called from many goroutines at once, on the same
// inputs too. libsash keeps the message of a failed call in a thread-local;
// the package locks the goroutine to its OS thread for the call and the
// read of that message, so each error carries its own call's message.
package sash

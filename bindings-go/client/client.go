// Package client is a pure-Go client (no cgo) of `sash serve`, the sash
// kernel served over a Unix domain socket (docs/protocol.md): record batches
// go to the server as Arrow IPC streams and come back the same way, with
// arrow-go's ipc package only. Results, error kinds and messages are the
// ones the in-process call (package github.com/sash-dev/sash/bindings-go)
// gives. Specs are the same JSON strings.
//
// A [Client] is one connection and serves one call at a time (calls from
// several goroutines wait for each other); to run calls in parallel, dial
// several clients. Streams live on the connection that opened them.
//
// Results are new record batches the caller releases. An answer of several
// batches (a parse of many lines, a push of a large record) is returned as
// one record batch, its batches concatenated column by column.
package client

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrConnectionLost matches (errors.Is) the error of a call whose connection
// broke before its answer was complete (the server was stopped or killed, the
// answer was cut: no partial result is ever returned), and of every call on
// a connection that is closed (after such a failure, a call stopped by its
// context, or Close; then net.ErrClosed matches too). Dial again to go on.
var ErrConnectionLost = errors.New("sash: connection lost before the answer was complete")

// Error is an error the server answered: Kind is its name (unknown_column,
// invalid_spec, ... as in the cgo binding, or the service's protocol,
// permission_denied, resource_limit) and Message the kernel's message. When
// the server said it closes the connection after it (protocol errors,
// refusals, an IPC message over its --max-message-bytes), later calls give
// ErrConnectionLost; after the others the client can go on.
type Error struct{ Kind, Message string }

func (e *Error) Error() string { return "sash: " + e.Kind + ": " + e.Message }

// Stats are a stream's watermark (nil before any row) and counters.
type Stats struct {
	Watermark        *int64 `json:"-"`
	RowsIn           uint64 `json:"rows_in"`
	RowsLate         uint64 `json:"rows_late"`
	NullTimesDropped uint64 `json:"null_times_dropped"`
	OpenWindows      uint64 `json:"open_windows"`
	StateBytes       uint64 `json:"state_bytes"`
}

// frame is any answer frame (head or tail; encoding/json matches the
// server's lower-case keys), and the rows read between them.
type frame struct {
	OK, Stream bool
	Closed     bool // the server ends the connection after this error
	Error      *Error
	Session    uint64
	Watermark  *int64
	Stats      Stats
	schema     *arrow.Schema
	parts      []arrow.Array // the batches as struct arrays, after an empty one
}

// Client is one connection to `sash serve`; see the package doc.
type Client struct {
	mu   sync.Mutex
	conn *net.UnixConn
	r    *bufio.Reader
	mem  memory.Allocator
}

// Option configures Dial.
type Option func(*Client)

// WithAllocator makes results (and the IPC writer's scratch) come from mem
// instead of memory.DefaultAllocator.
func WithAllocator(mem memory.Allocator) Option { return func(c *Client) { c.mem = mem } }

// Dial connects to the server listening on the socket path and says hello
// (a server refusing this process fails here, with an *Error of kind
// permission_denied or resource_limit).
func Dial(path string, opts ...Option) (*Client, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 1<<16), mem: memory.DefaultAllocator}
	for _, o := range opts {
		o(c)
	}
	if _, err := c.call(context.Background(), map[string]any{"op": "hello"}, nil, nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection (and the streams on it). A call in flight
// fails with ErrConnectionLost.
func (c *Client) Close() error { return c.conn.Close() }

// WindowAgg runs a windowed aggregation of rec (spec as the cgo WindowAgg's).
// Every record batch argument must be non-nil; it is only read.
func (c *Client) WindowAgg(ctx context.Context, rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return c.call(ctx, map[string]any{"op": "window_agg", "spec": rawSpec(spec)}, split(rec), nil)
}

// Rolling runs a rolling aggregation of rec (spec as the cgo Rolling's).
func (c *Client) Rolling(ctx context.Context, rec arrow.RecordBatch, spec string) (arrow.RecordBatch, error) {
	return c.call(ctx, map[string]any{"op": "rolling", "spec": rawSpec(spec)}, split(rec), nil)
}

// Parse parses each value of a string or binary array (non-nil) as one log
// line (spec as the cgo Parse's).
func (c *Client) Parse(ctx context.Context, lines arrow.Array, spec string) (arrow.RecordBatch, error) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "line", Type: lines.DataType(), Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{lines}, int64(lines.Len()))
	defer rec.Release()
	return c.call(ctx, map[string]any{"op": "parse", "input": "lines", "spec": rawSpec(spec)}, split(rec), nil)
}

// ParseBytes parses raw log text, gzip detected (spec as the cgo
// ParseBytes'). data is only read during the call.
func (c *Client) ParseBytes(ctx context.Context, data []byte, spec string) (arrow.RecordBatch, error) {
	return c.call(ctx, map[string]any{"op": "parse", "input": "bytes", "spec": rawSpec(spec)}, chunks("bytes", data), nil)
}

// Stream is a window or rolling stream the server keeps for the connection
// that opened it; its calls are that client's calls.
type Stream struct {
	c  *Client
	id uint64
}

// OpenWindowStream opens a window stream (spec as the cgo NewWindowStream's).
func (c *Client) OpenWindowStream(ctx context.Context, spec string) (*Stream, error) {
	return c.open(ctx, map[string]any{"op": "open", "stream": "window", "spec": rawSpec(spec)}, nil)
}

// OpenRollingStream opens a rolling stream (spec as the cgo NewRollingStream's).
func (c *Client) OpenRollingStream(ctx context.Context, spec string) (*Stream, error) {
	return c.open(ctx, map[string]any{"op": "open", "stream": "rolling", "spec": rawSpec(spec)}, nil)
}

// RestoreWindowStream opens a window stream from a Snapshot's bytes.
func (c *Client) RestoreWindowStream(ctx context.Context, snapshot []byte) (*Stream, error) {
	return c.open(ctx, map[string]any{"op": "restore", "stream": "window"}, chunks("snapshot", snapshot))
}

// RestoreRollingStream opens a rolling stream from a Snapshot's bytes.
func (c *Client) RestoreRollingStream(ctx context.Context, snapshot []byte) (*Stream, error) {
	return c.open(ctx, map[string]any{"op": "restore", "stream": "rolling"}, chunks("snapshot", snapshot))
}

func (c *Client) open(ctx context.Context, req map[string]any, in []arrow.RecordBatch) (*Stream, error) {
	f := &frame{}
	if _, err := c.call(ctx, req, in, f); err != nil {
		return nil, err
	}
	return &Stream{c, f.Session}, nil
}

// Push pushes rec and returns the results it finalized.
func (s *Stream) Push(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	return s.c.call(ctx, map[string]any{"op": "push", "session": s.id}, split(rec), nil)
}

// Advance moves the watermark to at least watermark (in the time column's
// unit) and returns the results it finalized.
func (s *Stream) Advance(ctx context.Context, watermark int64) (arrow.RecordBatch, error) {
	return s.c.call(ctx, map[string]any{"op": "advance", "session": s.id, "watermark": watermark}, nil, nil)
}

// Finish returns every open result.
func (s *Stream) Finish(ctx context.Context) (arrow.RecordBatch, error) {
	return s.c.call(ctx, map[string]any{"op": "finish", "session": s.id}, nil, nil)
}

// TakeLate returns (and forgets) the rows that came too late.
func (s *Stream) TakeLate(ctx context.Context) (arrow.RecordBatch, error) {
	return s.c.call(ctx, map[string]any{"op": "take_late", "session": s.id}, nil, nil)
}

// Snapshot returns the stream's state, for Restore*Stream.
func (s *Stream) Snapshot(ctx context.Context) ([]byte, error) {
	rec, err := s.c.call(ctx, map[string]any{"op": "snapshot", "session": s.id}, nil, nil)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	return append([]byte(nil), rec.Column(0).(*array.LargeBinary).Value(0)...), nil
}

// Stats returns the stream's watermark and counters.
func (s *Stream) Stats(ctx context.Context) (Stats, error) {
	f := &frame{}
	_, err := s.c.call(ctx, map[string]any{"op": "stats", "session": s.id}, nil, f)
	f.Stats.Watermark = f.Watermark
	return f.Stats, err
}

// Close drops the stream on the server.
func (s *Stream) Close(ctx context.Context) error {
	_, err := s.c.call(ctx, map[string]any{"op": "close", "session": s.id}, nil, nil)
	return err
}

// call sends one request (its frame, then the IPC stream of in, which it
// releases) from a goroutine while it reads the answer, whose last frame it
// leaves in f (if not nil), and returns the answer's rows (nil if it has
// none). A failure to read the answer closes the connection: where the next
// answer starts is unknown.
func (c *Client) call(ctx context.Context, req map[string]any, in []arrow.RecordBatch, f *frame) (arrow.RecordBatch, error) {
	defer release(in...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("sash: %w", ctx.Err())
	}
	stop, sent := context.AfterFunc(ctx, func() { c.conn.Close() }), make(chan struct{})
	go c.send(req, in, sent)
	f = cmp.Or(f, &frame{})
	err := c.receive(f)
	defer release(f.parts...)
	if err != nil || f.Closed {
		c.conn.Close() // and the writer, blocked or not, stops
	}
	// The server answers once it has read the whole request: had the writer
	// failed, the reader did too, or the server answers why.
	<-sent
	if !stop() {
		return nil, fmt.Errorf("sash: call stopped, connection closed: %w", ctx.Err())
	} else if err != nil {
		return nil, fmt.Errorf("%w (%w)", ErrConnectionLost, err)
	} else if !f.OK {
		return nil, cmp.Or(f.Error, &Error{"internal", "an error answer without its error"})
	} else if f.parts == nil {
		return nil, nil
	}
	all := f.parts[len(f.parts)-1] // the empty part, or the one batch
	if len(f.parts) > 2 {
		if all, err = array.Concatenate(f.parts, c.mem); err != nil {
			return nil, err
		}
		defer all.Release()
	}
	return array.RecordFromStructArray(all.(*array.Struct), f.schema), nil
}

func (c *Client) send(req map[string]any, in []arrow.RecordBatch, sent chan struct{}) {
	defer close(sent)
	body, _ := json.Marshal(req) // of strings, numbers and valid JSON only
	w := bufio.NewWriterSize(c.conn, 1<<16)
	_, err := w.Write(append(binary.LittleEndian.AppendUint32([]byte("SASH"), uint32(len(body))), body...))
	if len(in) > 0 {
		iw := ipc.NewWriter(w, ipc.WithSchema(in[0].Schema()), ipc.WithAllocator(c.mem))
		for _, r := range in {
			err = cmp.Or(err, iw.Write(r))
		}
		err = cmp.Or(err, iw.Close())
	}
	if cmp.Or(err, w.Flush()) != nil {
		c.conn.CloseWrite() // the server sees the request end, and answers
	}
}

// receive reads one answer into f. Its error is a broken connection; a
// server's error is in f, OK false.
func (c *Client) receive(f *frame) error {
	if err := c.frame(f); err != nil || !f.OK || !f.Stream {
		return err
	}
	rdr, err := ipc.NewReader(c.r, ipc.WithAllocator(c.mem))
	if err != nil {
		return err
	}
	defer rdr.Release()
	f.schema = rdr.Schema()
	f.parts = []arrow.Array{array.MakeArrayOfNull(c.mem, arrow.StructOf(f.schema.Fields()...), 0)}
	for rdr.Next() {
		f.parts = append(f.parts, array.RecordToStructArray(rdr.RecordBatch()))
	}
	if rdr.Err() != nil {
		return rdr.Err()
	}
	// arrow-go takes an EOF between messages for the end of the stream: the
	// tail, which must follow, tells a complete answer from a cut one.
	return c.frame(f)
}

// frame reads one frame into f.
func (c *Client) frame(f *frame) error {
	var h [8]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil || string(h[:4]) != "SASH" || binary.LittleEndian.Uint32(h[4:]) > 1<<20 {
		return cmp.Or(err, fmt.Errorf("not a sash frame: %q", h))
	}
	body := make([]byte, binary.LittleEndian.Uint32(h[4:]))
	_, err := io.ReadFull(c.r, body)
	return cmp.Or(err, json.Unmarshal(body, f))
}

// rawSpec sends a valid JSON spec as is, anything else as a string, which the
// server reports as the in-process call does (invalid_spec).
func rawSpec(spec string) any {
	if json.Valid([]byte(spec)) {
		return json.RawMessage(spec)
	}
	return spec
}

// rowsPerBatch bounds the batches a record is sent in (the server limits
// one IPC message to --max-message-bytes, 1 GiB by default).
var rowsPerBatch int64 = 1 << 20

func split(rec arrow.RecordBatch) (out []arrow.RecordBatch) {
	for i := int64(0); i == 0 || i < rec.NumRows(); i += rowsPerBatch {
		out = append(out, rec.NewSlice(i, min(i+rowsPerBatch, rec.NumRows())))
	}
	return out
}

// chunkBytes bounds the values data is sent in (a batch each).
var chunkBytes = 16 << 20

// chunks gives data as batches of one large_binary value of up to
// chunkBytes, without copying it (no data: one empty value).
func chunks(name string, data []byte) (out []arrow.RecordBatch) {
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: arrow.BinaryTypes.LargeBinary}}, nil)
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), chunkBytes)
		offsets := arrow.Int64Traits.CastToBytes([]int64{0, int64(n)})
		buffers := []*memory.Buffer{nil, memory.NewBufferBytes(offsets), memory.NewBufferBytes(data[:n])}
		col := array.NewLargeBinaryData(array.NewData(arrow.BinaryTypes.LargeBinary, 1, buffers, nil, 0, 0))
		out, data = append(out, array.NewRecordBatch(schema, []arrow.Array{col}, 1)), data[n:]
	}
	return out
}

func release[T interface{ Release() }](xs ...T) {
	for _, x := range xs {
		x.Release()
	}
}

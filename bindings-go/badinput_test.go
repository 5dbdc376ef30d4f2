package sash

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Bad inputs through every function: each row must fail with its error kind
// (and, where given, a message naming the problem), leave nothing allocated
// (sash releases what it took on error paths too), and not bring the process
// down: the test going on to the next row is that check.
//
// Hopping specs that put each row in a huge number of windows (8.64e13 a row
// for "every": "1ns", "period": "1d" on timestamp[ns]) used to run for
// minutes, growing to gigabytes; libsash now counts the windows first and
// fails with resource_limit at once (the rows below).

// batchOf builds a record batch from columns built by the caller (it releases them).
func batchOf(fields []arrow.Field, cols []arrow.Array) arrow.RecordBatch {
	n := int64(0)
	if len(cols) > 0 {
		n = int64(cols[0].Len())
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func timestamps(mem memory.Allocator, unit arrow.TimeUnit, vals []int64, valid []bool) arrow.Array {
	b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: unit})
	defer b.Release()
	for i, v := range vals {
		if valid != nil && !valid[i] {
			b.AppendNull()
		} else {
			b.Append(arrow.Timestamp(v))
		}
	}
	return b.NewArray()
}

func int64s(mem memory.Allocator, vals ...int64) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

func stringsArray(mem memory.Allocator, vals ...string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

func binaryArray(mem memory.Allocator, vals ...[]byte) arrow.Array {
	b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

// tsBatch: ts timestamp[unit] (the given values), val float64, name utf8.
func tsBatch(mem memory.Allocator, unit arrow.TimeUnit, vals ...int64) arrow.RecordBatch {
	fb := array.NewFloat64Builder(mem)
	defer fb.Release()
	names := make([]string, len(vals))
	for i := range vals {
		fb.Append(float64(i))
		names[i] = "n"
	}
	return batchOf([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: unit}, Nullable: true},
		{Name: "val", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, []arrow.Array{timestamps(mem, unit, vals, nil), fb.NewArray(), stringsArray(mem, names...)})
}

func msBatch(mem memory.Allocator) arrow.RecordBatch {
	return tsBatch(mem, arrow.Millisecond, 0, 1000, 61000, 125000)
}

// gzipBytes is data gzip-compressed.
func gzipBytes(data string) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write([]byte(data))
	w.Close()
	return buf.Bytes()
}

const commonLine = `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`

type badRow struct {
	name string
	// run makes the call (building its inputs from mem and releasing them).
	run  func(mem memory.Allocator) (arrow.RecordBatch, error)
	kind string
	// msg, if not empty, is a piece of the message.
	msg string
}

func window(build func(memory.Allocator) arrow.RecordBatch, spec string) func(memory.Allocator) (arrow.RecordBatch, error) {
	return func(mem memory.Allocator) (arrow.RecordBatch, error) {
		rec := build(mem)
		defer rec.Release()
		return WindowAgg(rec, spec)
	}
}

func rolling(build func(memory.Allocator) arrow.RecordBatch, spec string) func(memory.Allocator) (arrow.RecordBatch, error) {
	return func(mem memory.Allocator) (arrow.RecordBatch, error) {
		rec := build(mem)
		defer rec.Release()
		return Rolling(rec, spec)
	}
}

// streamPushes pushes the batches into a new tumbling WindowStream, one after
// another, and returns the last push's result or the first error.
func streamPushes(builds ...func(memory.Allocator) arrow.RecordBatch) func(memory.Allocator) (arrow.RecordBatch, error) {
	return func(mem memory.Allocator) (arrow.RecordBatch, error) {
		s, err := NewWindowStream(`{"time": "ts", "every": "1m", "aggs": ["count()"]}`)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		var out arrow.RecordBatch
		for _, build := range builds {
			if out != nil {
				out.Release()
			}
			rec := build(mem)
			out, err = s.Push(rec)
			rec.Release()
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

func parse(build func(memory.Allocator) arrow.Array, spec string) func(memory.Allocator) (arrow.RecordBatch, error) {
	return func(mem memory.Allocator) (arrow.RecordBatch, error) {
		lines := build(mem)
		defer lines.Release()
		return Parse(lines, spec)
	}
}

func parseBytes(data []byte, spec string) func(memory.Allocator) (arrow.RecordBatch, error) {
	return func(memory.Allocator) (arrow.RecordBatch, error) { return ParseBytes(data, spec) }
}

func commonLines(mem memory.Allocator) arrow.Array { return stringsArray(mem, commonLine) }

var badRows = []badRow{
	// Spec text.
	{"window/json_cut_short", window(msBatch, `{"time": "ts", "every": `), KindInvalidSpec, ""},
	{"window/spec_not_object", window(msBatch, `["ts", "1m"]`), KindInvalidSpec, ""},
	{"window/spec_empty", window(msBatch, ``), KindInvalidSpec, ""},
	{"window/spec_nul_byte", window(msBatch, "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count()\"]}\x00garbage"), KindInvalidSpec, "NUL byte at byte 50"},
	{"window/spec_nul_inside", window(msBatch, "{\"time\": \"t\x00s\", \"every\": \"1m\", \"aggs\": [\"count()\"]}"), KindInvalidSpec, "NUL"},
	{"window/spec_invalid_utf8", window(msBatch, "{\"time\": \"ts\xff\", \"every\": \"1m\", \"aggs\": [\"count()\"]}"), KindInvalidSpec, ""},
	{"window/unknown_key", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["count()"], "colsed": "left"}`), KindInvalidSpec, "colsed"},
	{"window/every_and_session_gap", window(msBatch, `{"time": "ts", "every": "1m", "session_gap": "1m", "aggs": ["count()"]}`), KindInvalidSpec, ""},
	{"window/neither_every_nor_gap", window(msBatch, `{"time": "ts", "aggs": ["count()"]}`), KindInvalidSpec, ""},
	{"window/no_aggs", window(msBatch, `{"time": "ts", "every": "1m"}`), KindInvalidSpec, ""},
	{"window/closed_middle", window(msBatch, `{"time": "ts", "every": "1m", "closed": "middle", "aggs": ["count()"]}`), KindInvalidSpec, ""},
	// Columns.
	{"window/unknown_time_column", window(msBatch, `{"time": "when", "every": "1m", "aggs": ["count()"]}`), KindUnknownColumn, "'when'"},
	{"window/unknown_agg_column", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["mean(nope)"]}`), KindUnknownColumn, "nope"},
	{"window/unknown_by_column", window(msBatch, `{"time": "ts", "every": "1m", "by": "host", "aggs": ["count()"]}`), KindUnknownColumn, "host"},
	{"window/float_time_column", window(msBatch, `{"time": "val", "every": "1m", "aggs": ["count()"]}`), KindWrongType, ""},
	{"window/string_time_column", window(msBatch, `{"time": "name", "every": "1m", "aggs": ["count()"]}`), KindWrongType, ""},
	{"window/sum_of_strings", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["sum(name)"]}`), KindWrongType, ""},
	{"window/empty_record", window(func(memory.Allocator) arrow.RecordBatch { return batchOf(nil, nil) },
		`{"time": "ts", "every": "1m", "aggs": ["count()"]}`), KindUnknownColumn, ""},
	{"window/null_time", window(func(mem memory.Allocator) arrow.RecordBatch {
		return batchOf([]arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true}},
			[]arrow.Array{timestamps(mem, arrow.Millisecond, []int64{0, 0}, []bool{true, false})})
	}, `{"time": "ts", "every": "1m", "aggs": ["count()"]}`), KindNullTime, ""},
	// Durations.
	{"window/duration_1x", window(msBatch, `{"time": "ts", "every": "1x", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	// A negative or zero every is a well-formed duration that the spec does not
	// take: libsash says invalid_spec ("'every' must be positive").
	{"window/duration_negative", window(msBatch, `{"time": "ts", "every": "-5m", "aggs": ["count()"]}`), KindInvalidSpec, "positive"},
	{"window/duration_1M", window(msBatch, `{"time": "ts", "every": "1M", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"window/duration_fraction", window(msBatch, `{"time": "ts", "every": "1.5h", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"window/duration_zero", window(msBatch, `{"time": "ts", "every": "0s", "aggs": ["count()"]}`), KindInvalidSpec, "positive"},
	{"window/duration_huge", window(msBatch, `{"time": "ts", "every": "99999999999999999999d", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"window/duration_finer_than_column", window(func(mem memory.Allocator) arrow.RecordBatch { return tsBatch(mem, arrow.Second, 0, 60) },
		`{"time": "ts", "every": "1ms", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"window/bare_integer_on_timestamp", window(msBatch, `{"time": "ts", "every": 60000, "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"window/unit_on_integer_time", window(func(mem memory.Allocator) arrow.RecordBatch {
		return batchOf([]arrow.Field{{Name: "t", Type: arrow.PrimitiveTypes.Int64}}, []arrow.Array{int64s(mem, 1, 2)})
	}, `{"time": "t", "every": "1m", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"window/offset_garbage", window(msBatch, `{"time": "ts", "every": "1m", "offset": "abc", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	// Resource limits: more windows than one output can hold.
	{"window/hopping_too_many_windows_ms", window(func(mem memory.Allocator) arrow.RecordBatch { return tsBatch(mem, arrow.Millisecond, 0, 1000) },
		`{"time": "ts", "every": "1ms", "period": "1000d", "aggs": ["count()"]}`), KindResourceLimit, "windows"},
	{"window/hopping_too_many_windows_ns_1d", window(func(mem memory.Allocator) arrow.RecordBatch { return tsBatch(mem, arrow.Nanosecond, 0, 1000) },
		`{"time": "ts", "every": "1ns", "period": "1d", "aggs": ["count()"]}`), KindResourceLimit, "windows"},
	{"window/hopping_too_many_windows_ns_1s", window(func(mem memory.Allocator) arrow.RecordBatch { return tsBatch(mem, arrow.Nanosecond, 0, 1000) },
		`{"time": "ts", "every": "1ns", "period": "1s", "aggs": ["count()"]}`), KindResourceLimit, "windows"},
	// Aggregations.
	{"window/unknown_function", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["frobnicate(val)"]}`), KindUnknownFunction, "frobnicate"},
	{"window/expression_unclosed", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["mean(val"]}`), KindInvalidExpression, ""},
	{"window/expression_as_nothing", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["count() as"]}`), KindInvalidExpression, ""},
	{"window/quantile_out_of_range", window(msBatch, `{"time": "ts", "every": "1m", "aggs": ["quantile(val, 2.0)"]}`), KindInvalidExpression, ""},
	{"window/sum_overflow", window(func(mem memory.Allocator) arrow.RecordBatch {
		return batchOf([]arrow.Field{{Name: "t", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}},
			[]arrow.Array{int64s(mem, 1, 2), int64s(mem, math.MaxInt64, math.MaxInt64)})
	}, `{"time": "t", "every": 10, "aggs": ["sum(v)"]}`), KindOverflow, ""},
	// Nil inputs.
	{"window/nil_record", func(memory.Allocator) (arrow.RecordBatch, error) {
		return WindowAgg(nil, `{"time": "ts", "every": "1m", "aggs": ["count()"]}`)
	}, KindNullArgument, ""},
	{"rolling/nil_record", func(memory.Allocator) (arrow.RecordBatch, error) {
		return Rolling(nil, `{"time": "ts", "period": "1m", "aggs": ["count()"]}`)
	}, KindNullArgument, ""},
	// Rolling.
	{"rolling/every_not_taken", rolling(msBatch, `{"time": "ts", "every": "1m", "aggs": ["count()"]}`), KindInvalidSpec, ""},
	{"rolling/period_1x", rolling(msBatch, `{"time": "ts", "period": "1x", "aggs": ["count()"]}`), KindInvalidDuration, ""},
	{"rolling/unknown_column", rolling(msBatch, `{"time": "ts", "period": "1m", "aggs": ["max(nope)"]}`), KindUnknownColumn, "nope"},
	{"rolling/spec_nul_byte", rolling(msBatch, "{\"time\": \"ts\", \"period\": \"1m\"\x00, \"aggs\": [\"count()\"]}"), KindInvalidSpec, "NUL"},
	// Parse.
	{"parse/nil_array", func(memory.Allocator) (arrow.RecordBatch, error) { return Parse(nil, `{"format": "common"}`) }, KindNullArgument, ""},
	{"parse/typed_nil_array", func(memory.Allocator) (arrow.RecordBatch, error) {
		var lines *array.String
		return Parse(lines, `{"format": "common"}`)
	}, KindNullArgument, ""},
	{"parse/unknown_format", parse(commonLines, `{"format": "klingon"}`), KindInvalidSpec, "klingon"},
	{"parse/no_format", parse(commonLines, `{}`), KindInvalidSpec, ""},
	{"parse/unknown_key", parse(commonLines, `{"format": "common", "on_eror": "raise"}`), KindInvalidSpec, "on_eror"},
	{"parse/key_of_another_format", parse(commonLines, `{"format": "common", "pattern": "(?P<a>.*)"}`), KindInvalidSpec, ""},
	{"parse/regex_without_pattern", parse(commonLines, `{"format": "regex"}`), KindInvalidSpec, ""},
	{"parse/regex_bad_pattern", parse(commonLines, `{"format": "regex", "pattern": "(?P<a>["}`), KindInvalidSpec, ""},
	{"parse/json_without_schema", parse(commonLines, `{"format": "json"}`), KindInvalidSpec, ""},
	{"parse/logfmt_bad_field_type", parse(commonLines, `{"format": "logfmt", "fields": {"a": "quux"}}`), KindInvalidSpec, ""},
	{"parse/bad_timezone", parse(commonLines, `{"format": "common", "timezone": "Mars/Olympus_Mons"}`), KindInvalidSpec, ""},
	{"parse/max_line_bytes_zero", parse(commonLines, `{"format": "common", "max_line_bytes": 0}`), KindInvalidSpec, ""},
	{"parse/spec_nul_byte", parse(commonLines, "{\"format\": \"common\x00\"}"), KindInvalidSpec, "NUL"},
	{"parse/int_array", parse(func(mem memory.Allocator) arrow.Array { return int64s(mem, 1, 2) }, `{"format": "common"}`), KindWrongType, ""},
	{"parse/string_array_invalid_utf8", parse(func(mem memory.Allocator) arrow.Array { return stringsArray(mem, "ok", "bad \xff\xfe line") },
		`{"format": "common"}`), KindInvalidArray, ""},
	{"parse/binary_invalid_utf8_raise", parse(func(mem memory.Allocator) arrow.Array {
		return binaryArray(mem, []byte(commonLine), []byte("127.0.0.1 - \xff\xfe [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1"))
	}, `{"format": "common", "on_error": "raise"}`), KindParse, "line 2"},
	{"parse/bad_line_raise", parse(func(mem memory.Allocator) arrow.Array { return stringsArray(mem, commonLine, "not a log line") },
		`{"format": "common", "on_error": "raise"}`), KindParse, "line 2"},
	// ParseBytes.
	{"bytes/unknown_format", parseBytes([]byte(commonLine), `{"format": "klingon"}`), KindInvalidSpec, "klingon"},
	{"bytes/spec_nul_byte", parseBytes([]byte(commonLine), "{\"format\": \"common\"}\x00"), KindInvalidSpec, "NUL"},
	{"bytes/invalid_utf8_raise", parseBytes([]byte(commonLine+"\n\xff\xfe\xfd\n"), `{"format": "common", "on_error": "raise"}`), KindParse, "line 2"},
	{"bytes/gzip_magic_garbage", parseBytes([]byte("\x1f\x8b this is not a gzip stream at all"), `{"format": "common"}`), KindInvalidInput, ""},
	{"bytes/gzip_truncated", parseBytes(func() []byte { z := gzipBytes(strings.Repeat(commonLine+"\n", 100)); return z[:len(z)/2] }(), `{"format": "common"}`), KindInvalidInput, ""},
	{"bytes/gzip_magic_only", parseBytes([]byte("\x1f\x8b"), `{"format": "common"}`), KindInvalidInput, ""},
	{"bytes/gzip_past_max_decompressed_bytes", parseBytes(gzipBytes(strings.Repeat(commonLine+"\n", 100)), `{"format": "common", "max_decompressed_bytes": 1000}`),
		KindResourceLimit, "max_decompressed_bytes"},
	// Calls whose context is done before they start (cancel_test.go has the
	// calls cancelled while they run).
	{"window/context_done", func(mem memory.Allocator) (arrow.RecordBatch, error) {
		rec := msBatch(mem)
		defer rec.Release()
		return WindowAggContext(doneContext(), rec, `{"time": "ts", "every": "1m", "aggs": ["count()"]}`)
	}, KindCancelled, "context canceled"},
	{"rolling/context_done", func(mem memory.Allocator) (arrow.RecordBatch, error) {
		rec := msBatch(mem)
		defer rec.Release()
		return RollingContext(doneContext(), rec, `{"time": "ts", "period": "1m", "aggs": ["count()"]}`)
	}, KindCancelled, "context canceled"},
	{"parse/context_done", func(mem memory.Allocator) (arrow.RecordBatch, error) {
		lines := commonLines(mem)
		defer lines.Release()
		return ParseContext(doneContext(), lines, `{"format": "common"}`)
	}, KindCancelled, "context canceled"},
	{"bytes/context_done", func(memory.Allocator) (arrow.RecordBatch, error) {
		return ParseBytesContext(doneContext(), []byte(commonLine), `{"format": "common"}`)
	}, KindCancelled, "context canceled"},
	// Streams: a push is checked against the first push's schema; snapshots are checked whole.
	{"stream/push_another_schema", streamPushes(msBatch, func(mem memory.Allocator) arrow.RecordBatch {
		return batchOf([]arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true}},
			[]arrow.Array{timestamps(mem, arrow.Millisecond, []int64{200000}, nil)})
	}), KindInvalidInput, "first push"},
	{"stream/null_time", streamPushes(func(mem memory.Allocator) arrow.RecordBatch {
		return batchOf([]arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true}},
			[]arrow.Array{timestamps(mem, arrow.Millisecond, []int64{0, 0}, []bool{true, false})})
	}), KindNullTime, ""},
	{"stream/restore_garbage", func(memory.Allocator) (arrow.RecordBatch, error) {
		s, err := RestoreWindowStream([]byte("SASHSNAP and then nothing a snapshot holds"))
		if s != nil {
			s.Close()
		}
		return nil, err
	}, KindInvalidInput, "snapshot"},
	{"stream/restore_nothing", func(memory.Allocator) (arrow.RecordBatch, error) {
		s, err := RestoreRollingStream(nil)
		if s != nil {
			s.Close()
		}
		return nil, err
	}, KindInvalidInput, "snapshot"},
}

func TestBadInput(t *testing.T) {
	if len(badRows) < 25 {
		t.Fatalf("only %d rows", len(badRows))
	}
	for _, row := range badRows {
		t.Run(row.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			out, err := row.run(mem)
			if err == nil {
				out.Release()
				mem.AssertSize(t, 0)
				t.Fatalf("succeeded; want a %s error", row.kind)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want a *sash.Error", err, err)
			}
			if e.Kind != row.kind || !strings.Contains(e.Message, row.msg) {
				t.Errorf("got %v; want kind %s with %q in the message", err, row.kind, row.msg)
			}
			if !errors.Is(err, &Error{Kind: row.kind}) {
				t.Errorf("errors.Is(err, kind %s) is false", row.kind)
			}
			mem.AssertSize(t, 0)
		})
	}
}

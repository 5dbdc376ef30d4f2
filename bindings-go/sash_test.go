package sash

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var corpus = filepath.Join("..", "tests", "conformance")

type field struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type windowCase struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Input struct {
		Schema  []field `json:"schema"`
		Batches []struct {
			Columns map[string][]any `json:"columns"`
			Slice   []int            `json:"slice"`
		} `json:"batches"`
	} `json:"input"`
	Spec     json.RawMessage `json:"spec"`
	Expected *struct {
		Schema  []field          `json:"schema"`
		Columns map[string][]any `json:"columns"`
	} `json:"expected"`
}

var types = map[string]arrow.DataType{
	"timestamp[s]":  &arrow.TimestampType{Unit: arrow.Second},
	"timestamp[ms]": &arrow.TimestampType{Unit: arrow.Millisecond},
	"timestamp[us]": &arrow.TimestampType{Unit: arrow.Microsecond},
	"timestamp[ns]": &arrow.TimestampType{Unit: arrow.Nanosecond},
	"int64":         arrow.PrimitiveTypes.Int64,
	"int32":         arrow.PrimitiveTypes.Int32,
	"float64":       arrow.PrimitiveTypes.Float64,
}

// corpusType reads a corpus type string; ok is false for types this small
// runner does not build.
func corpusType(text string) (arrow.DataType, bool) {
	if dt, ok := types[text]; ok {
		return dt, true
	}
	switch text {
	case "utf8":
		return arrow.BinaryTypes.String, true
	case "date32":
		return arrow.FixedWidthTypes.Date32, true
	case "dictionary<int32, utf8>":
		return &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, true
	}
	if strings.HasPrefix(text, "timestamp[") && strings.HasSuffix(text, "]") {
		unit, zone, _ := strings.Cut(text[len("timestamp["):len(text)-1], ", ")
		base, ok := types["timestamp["+unit+"]"]
		if !ok {
			return nil, false
		}
		return &arrow.TimestampType{Unit: base.(*arrow.TimestampType).Unit, TimeZone: zone}, true
	}
	return nil, false
}

// buildColumn builds one column from corpus JSON values; ok is false for
// values this small runner does not handle (it then skips the case).
func buildColumn(mem memory.Allocator, dt arrow.DataType, values []any) (arrow.Array, bool) {
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	for _, v := range values {
		if v == nil {
			b.AppendNull()
			continue
		}
		if text, isText := v.(string); isText {
			switch bb := b.(type) {
			case *array.StringBuilder:
				bb.Append(text)
			case *array.BinaryDictionaryBuilder:
				if err := bb.AppendString(text); err != nil {
					return nil, false
				}
			case *array.Float64Builder:
				f, ok := map[string]float64{"NaN": math.NaN(), "inf": math.Inf(1), "-inf": math.Inf(-1)}[text]
				if !ok {
					return nil, false
				}
				bb.Append(f)
			default:
				return nil, false
			}
			continue
		}
		n, isNum := v.(float64)
		if !isNum {
			return nil, false
		}
		switch bb := b.(type) {
		case *array.TimestampBuilder:
			bb.Append(arrow.Timestamp(int64(n)))
		case *array.Int64Builder:
			bb.Append(int64(n))
		case *array.Int32Builder:
			bb.Append(int32(n))
		case *array.Float64Builder:
			bb.Append(n)
		case *array.Date32Builder:
			bb.Append(arrow.Date32(int32(n)))
		default:
			return nil, false
		}
	}
	return b.NewArray(), true
}

// cellValue reads a cell as float64 (nil for null) for comparison with the corpus.
func cellValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch c := a.(type) {
	case *array.Timestamp:
		return float64(c.Value(i))
	case *array.Int64:
		return float64(c.Value(i))
	case *array.Int32:
		return float64(c.Value(i))
	case *array.Float64:
		return c.Value(i)
	case *array.Uint16:
		return float64(c.Value(i))
	case *array.Uint64:
		return float64(c.Value(i))
	case *array.String:
		return c.Value(i)
	case *array.StringView:
		return c.Value(i)
	case *array.Date32:
		return float64(c.Value(i))
	case *array.Dictionary:
		return cellValue(c.Dictionary(), c.GetValueIndex(i))
	}
	return "unsupported " + a.DataType().String()
}

func same(got, want any) bool {
	if text, isText := want.(string); isText {
		if f, special := map[string]float64{"NaN": math.NaN(), "inf": math.Inf(1), "-inf": math.Inf(-1)}[text]; special {
			want = f
		}
	}
	g, gok := got.(float64)
	w, wok := want.(float64)
	if gok && wok && math.IsNaN(g) && math.IsNaN(w) {
		return true
	}
	if gok && wok {
		return g == w || math.Abs(g-w) <= 1e-9*math.Max(math.Abs(g), math.Abs(w))
	}
	return got == want
}

// The tumbling-window cases of the corpus, through libsash from Go.
func TestTumblingCorpus(t *testing.T) {
	var doc struct {
		Cases []windowCase `json:"cases"`
	}
	text, err := os.ReadFile(filepath.Join(corpus, "windows", "tumbling.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(text, &doc); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	ran := 0
	for _, c := range doc.Cases {
		if c.Op != "window_agg" || c.Expected == nil || len(c.Input.Batches) != 1 || c.Input.Batches[0].Slice != nil {
			continue
		}
		fields := make([]arrow.Field, 0, len(c.Input.Schema))
		cols := make([]arrow.Array, 0, len(c.Input.Schema))
		ok := true
		for _, f := range c.Input.Schema {
			dt, known := types[f.Type]
			if !known {
				ok = false
				break
			}
			col, built := buildColumn(mem, dt, c.Input.Batches[0].Columns[f.Name])
			if !built {
				ok = false
				break
			}
			fields = append(fields, arrow.Field{Name: f.Name, Type: dt, Nullable: true})
			cols = append(cols, col)
		}
		if !ok {
			for _, col := range cols {
				col.Release()
			}
			continue
		}
		rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(cols[0].Len()))
		for _, col := range cols {
			col.Release()
		}
		t.Run(c.Name, func(t *testing.T) {
			out, err := WindowAgg(rec, string(c.Spec))
			if err != nil {
				t.Fatalf("%v", err)
			}
			defer out.Release()
			if int(out.NumCols()) != len(c.Expected.Schema) {
				t.Fatalf("got %d columns, want %d", out.NumCols(), len(c.Expected.Schema))
			}
			for i, f := range c.Expected.Schema {
				if out.ColumnName(i) != f.Name {
					t.Errorf("column %d is %s, want %s", i, out.ColumnName(i), f.Name)
				}
				want := c.Expected.Columns[f.Name]
				col := out.Column(i)
				if col.Len() != len(want) {
					t.Fatalf("column %s has %d rows, want %d", f.Name, col.Len(), len(want))
				}
				for r := range want {
					if got := cellValue(col, r); !same(got, want[r]) {
						t.Errorf("column %s row %d: got %v, want %v", f.Name, r, got, want[r])
					}
				}
			}
		})
		rec.Release()
		ran++
	}
	if ran < 10 {
		t.Fatalf("only %d tumbling cases ran", ran)
	}
	t.Logf("%d tumbling cases through libsash %s", ran, Version())
	mem.AssertSize(t, 0)
}

type parseCase struct {
	Name  string `json:"name"`
	Input struct {
		Lines []*string `json:"lines"`
	} `json:"input"`
	Spec     json.RawMessage `json:"spec"`
	Expected *struct {
		Columns map[string][]any `json:"columns"`
	} `json:"expected"`
}

// The access-log parse case of the corpus, from an Arrow string array and from bytes.
func TestParseCorpus(t *testing.T) {
	var doc struct {
		Cases []parseCase `json:"cases"`
	}
	text, err := os.ReadFile(filepath.Join(corpus, "parse", "access.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(text, &doc); err != nil {
		t.Fatal(err)
	}
	var c *parseCase
	for i := range doc.Cases {
		if doc.Cases[i].Name == "parse_common_basic" {
			c = &doc.Cases[i]
		}
	}
	if c == nil || c.Expected == nil {
		t.Fatal("no parse_common_basic case")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	b := array.NewStringBuilder(mem)
	var joined []string
	for _, l := range c.Input.Lines {
		b.Append(*l)
		joined = append(joined, *l)
	}
	lines := b.NewArray()
	b.Release()

	check := func(t *testing.T, out arrow.RecordBatch) {
		for name, want := range c.Expected.Columns {
			idx := out.Schema().FieldIndices(name)
			if len(idx) != 1 {
				t.Fatalf("no column %s", name)
			}
			col := out.Column(idx[0])
			if name == "timestamp" {
				continue // compared as text by the Rust corpus runner; here: present and non-null
			}
			for r := range want {
				if got := cellValue(col, r); !same(got, want[r]) {
					t.Errorf("column %s row %d: got %v, want %v", name, r, got, want[r])
				}
			}
		}
	}
	t.Run("array", func(t *testing.T) {
		out, err := Parse(lines, string(c.Spec))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		check(t, out)
	})
	t.Run("bytes", func(t *testing.T) {
		out, err := ParseBytes([]byte(strings.Join(joined, "\n")), string(c.Spec))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		check(t, out)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := ParseBytes([]byte("x"), `{"format": "klingon"}`)
		if e, ok := err.(*Error); !ok || e.Kind != "invalid_spec" {
			t.Fatalf("got %v, want an invalid_spec error", err)
		}
		rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "line", Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{lines}, int64(lines.Len()))
		defer rec.Release()
		_, err = WindowAgg(rec, `{"time": "ts", "every": "1m", "aggs": ["count()"]}`)
		if e, ok := err.(*Error); !ok || e.Kind != "unknown_column" || !strings.Contains(e.Message, "ts") {
			t.Fatalf("got %v, want an unknown_column error", err)
		}
	})
	lines.Release()
	mem.AssertSize(t, 0)
}

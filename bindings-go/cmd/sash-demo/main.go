// sash-demo: a tumbling-window aggregation and a log parse through libsash
// from Go. Run from bindings-go with the CGO_* variables of `make test-go`:
//
//	go run ./cmd/sash-demo
package main

import (
	"fmt"
	"log"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	sash "github.com/sash-dev/sash/bindings-go"
)

func main() {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
		{Name: "key", Type: arrow.PrimitiveTypes.Int32},
		{Name: "val", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{0, 30000, 61000, 90000}, nil)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{1, 1, 2, 2}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1, 3, 5, 7}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()

	out, err := sash.WindowAgg(rec, `{"time": "ts", "every": "1m", "by": "key", "aggs": ["count() as n", "mean(val) as m"]}`)
	if err != nil {
		log.Fatal(err)
	}
	defer out.Release()
	fmt.Printf("libsash %s\ntumbling 1m by key:\n", sash.Version())
	for i := 0; i < int(out.NumCols()); i++ {
		fmt.Printf("  %-12s %v\n", out.ColumnName(i), out.Column(i))
	}

	parsed, err := sash.ParseBytes([]byte("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\nnot a log line\n"), `{"format": "common"}`)
	if err != nil {
		log.Fatal(err)
	}
	defer parsed.Release()
	fmt.Println("parse (common):")
	for i := 0; i < int(parsed.NumCols()); i++ {
		fmt.Printf("  %-12s %v\n", parsed.ColumnName(i), parsed.Column(i))
	}
}

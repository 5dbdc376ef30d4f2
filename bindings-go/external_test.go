package sash

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// consumerMain is the program of the scratch module: the package used from
// another module, the way its README says.
const consumerMain = `package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	sash "github.com/sash-dev/sash/bindings-go"
)

func main() {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
		{Name: "val", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{0, 30000, 61000, 90000, 125000}, nil)
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{1, 3, 5, 7, 9}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()

	out, err := sash.WindowAgg(rec, ` + "`" + `{"time": "ts", "every": "1m", "aggs": ["count() as n", "sum(val) as s"]}` + "`" + `)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer out.Release()
	fmt.Println("version", sash.Version())
	fmt.Println("n", out.Column(2))
	fmt.Println("s", out.Column(3))

	parsed, err := sash.ParseBytes([]byte("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n"), ` + "`" + `{"format": "common"}` + "`" + `)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer parsed.Release()
	fmt.Println("rows", parsed.NumRows())

	_, err = sash.WindowAgg(rec, ` + "`" + `{"time": "nope", "every": "1m", "aggs": ["count()"]}` + "`" + `)
	var e *sash.Error
	if !errors.As(err, &e) || !errors.Is(err, sash.ErrUnknownColumn) {
		fmt.Println("unexpected error:", err)
		os.Exit(1)
	}
	fmt.Println("error", e.Kind)

	// Through a context that can be done: the cancel token calls of libsash.
	ctx, cancel := context.WithCancel(context.Background())
	again, err := sash.WindowAggContext(ctx, rec, ` + "`" + `{"time": "ts", "every": "1m", "aggs": ["count() as n"]}` + "`" + `)
	cancel()
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer again.Release()
	fmt.Println("ctx n", again.Column(2))
	_, err = sash.WindowAggContext(ctx, rec, ` + "`" + `{"time": "ts", "every": "1m", "aggs": ["count()"]}` + "`" + `)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, sash.ErrCancelled) {
		fmt.Println("unexpected error:", err)
		os.Exit(1)
	}
	fmt.Println("cancelled")
}
`

func pkgConfig(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("pkg-config", append(args, "sash")...).Output()
	if err != nil {
		t.Fatalf("pkg-config %s sash: %v (PKG_CONFIG_PATH=%s)", strings.Join(args, " "), err, os.Getenv("PKG_CONFIG_PATH"))
	}
	return strings.TrimSpace(string(out))
}

// Another module builds against the package through a replace directive,
// with the cgo flags of `pkg-config sash` (an installed libsash, linked
// dynamically), and runs. make test-go sets SASH_TEST_EXTERNAL=1 and
// PKG_CONFIG_PATH to the prefix test-c-install installs into.
func TestExternalModule(t *testing.T) {
	if os.Getenv("SASH_TEST_EXTERNAL") == "" {
		t.Skip("set SASH_TEST_EXTERNAL=1 and PKG_CONFIG_PATH to an installed sash.pc (make test-go does)")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(here, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(here, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// The consumer needs what the package needs: its requirements and sums,
	// plus the package itself, replaced by this directory.
	mod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(gomod), "module example.com/sash-consumer") +
		"\nrequire github.com/sash-dev/sash/bindings-go v0.0.0\n\nreplace github.com/sash-dev/sash/bindings-go => " + here + "\n"
	dir := t.TempDir()
	for name, text := range map[string]string{"go.mod": mod, "go.sum": string(gosum), "main.go": consumerMain} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	libdir := pkgConfig(t, "--variable=libdir")
	env := append(os.Environ(),
		"CGO_ENABLED=1",
		"CGO_CFLAGS="+pkgConfig(t, "--cflags"),
		// libsash.so is outside the loader's path: the rpath finds it.
		"CGO_LDFLAGS="+pkgConfig(t, "--libs")+" -Wl,-rpath,"+libdir,
	)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("go", "build", "-o", "consumer", ".")
	if ldd, err := exec.Command("ldd", filepath.Join(dir, "consumer")).Output(); err == nil && !strings.Contains(string(ldd), filepath.Join(libdir, "libsash.so")) {
		t.Errorf("the consumer does not load the installed libsash.so:\n%s", ldd)
	}
	out := run(filepath.Join(dir, "consumer"))
	for _, want := range []string{"version " + Version(), "n [2 2 1]", "s [4 12 9]", "rows 1", "error unknown_column", "ctx n [2 2 1]", "cancelled"} {
		if !strings.Contains(out, want) {
			t.Errorf("the consumer's output lacks %q:\n%s", want, out)
		}
	}
}

# sash: `make help` lists every target with its one-line description.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
CARGO       ?= cargo
# CI machines have 2 cores; never ask for more jobs than that.
export CARGO_BUILD_JOBS ?= 2

.PHONY: help demo test test-rust test-corpus test-python test-c test-jvm bench bench-c bench-jvm bench-flink bench-threads bench-cli bench-parse bench-quantile bench-serve bench-rust python-dev lint fmt venv clean \
        header lib-c install test-c-header test-c-programs test-c-install test-c-conformance test-go lib-jvm jar

# ---- C binding (issue #5) ----
# Where cargo puts its outputs (honours CARGO_TARGET_DIR).
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
# cbindgen, pinned, installed from crates.io into .tools/ when missing.
CBINDGEN_VERSION := 0.29.4
TOOLS       := $(CURDIR)/.tools
CBINDGEN    := $(TOOLS)/bin/cbindgen
# The profile of the libraries `make install` installs (release) and the C and
# Go tests link (test-opt, with the reference feature every test build has:
# cargo then reuses the arrow crates and sash-core test-rust compiled; see
# ffi/Cargo.toml).
INSTALL_PROFILE ?= release
TEST_PROFILE    ?= test-opt
TEST_FEATURES   := --features sash-core/reference
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
BINDIR      ?= $(PREFIX)/bin
INCLUDEDIR  ?= $(PREFIX)/include
C_BUILD     := tests/c/build
CFLAGS_TEST := -std=c99 -Wall -Wextra -Werror -g -Iinclude
C_LIBS      := -lpthread -ldl -lm
VALGRIND    := valgrind -q --suppressions=$(CURDIR)/tests/c/valgrind.supp --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1
SASH_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp ## Create the project's Python venv (.venv) with dev and benchmark tools

demo: python-dev ## Build the wheel into .venv and run examples/quickstart.py on the bundled real access log, then the same from the shell with the `sash` command
	$(PY) examples/quickstart.py examples/data/apache_combined_10k.log
	@echo; echo '$$ sash window examples/data/apache_combined_10k.log --format combined --every 6h --by status --agg "count() as requests" --agg "quantile(size, 0.95) as p95_bytes" --output-format table'
	@$(VENV)/bin/sash window examples/data/apache_combined_10k.log --format combined --every 6h --by status \
	  --agg "count() as requests" --agg "quantile(size, 0.95) as p95_bytes" --output-format table

test: test-rust test-corpus test-python test-c test-go test-jvm ## Run every test of every language

# sash-c's Rust tests run in test-c-conformance (debug, next to the C programs'
# build): building them here too, in release with LTO, cost CI a minute for nothing.
RUST_TEST_CRATES := --workspace --exclude sash-python --exclude sash-c
test-rust: ## Rust unit, conformance and property tests (sash-c's run in test-c)
	$(CARGO) test --profile test-opt $(RUST_TEST_CRATES)

test-corpus: venv ## Re-derive the conformance corpus's expectations (brute force + DuckDB) and test the bench harness
	$(PY) tests/conformance/oracle.py --check
	$(PY) tests/conformance/stream_oracle.py --check
	$(PY) -m pytest -q bench/test_run.py

# The profile python-dev builds with: test-python asks for test-opt (see Cargo.toml).
PY_PROFILE ?= release
python-dev: venv ## Build the Python wheel (release) and install it into .venv (maturin develop)
	cd bindings-python && VIRTUAL_ENV=$(abspath $(VENV)) $(abspath $(VENV))/bin/maturin develop --profile $(PY_PROFILE) --features reference --quiet

test-python: venv ## Python binding tests (tests/python: corpus, equivalence, zero-copy, memory)
	$(MAKE) --no-print-directory python-dev PY_PROFILE=test-opt
	$(PY) -m pytest -q tests/python

$(CBINDGEN):
	CARGO_TARGET_DIR=$(TARGET_DIR)/cbindgen-build $(CARGO) install cbindgen --version $(CBINDGEN_VERSION) --locked --root $(TOOLS)

header: $(CBINDGEN) ## Regenerate include/sash.h from bindings-c/ with cbindgen (pinned, installed into .tools/)
	$(CBINDGEN) --quiet --config bindings-c/cbindgen.toml --crate sash-c --output include/sash.h bindings-c

# The command is built with the C library: one build of both resolves the
# crates' features as test-rust's does, so neither compiles sash-core again.
lib-c: ## Build libsash.so, libsash.a and the `sash` command (profile: PROFILE=dev|release|test-opt, default release)
	$(CARGO) build -p sash-c -p sash-cli --profile $(or $(PROFILE),$(INSTALL_PROFILE)) $(LIB_C_FEATURES)

test-c: test-c-header test-c-programs test-c-install test-c-conformance ## C binding tests: header drift and C99/C++ compile, C programs under valgrind and ASan, corpus through the C ABI

test-c-header: header
	git diff --exit-code -- include/sash.h || { echo "include/sash.h drifted from bindings-c/: commit the regenerated header"; exit 1; }
	@mkdir -p $(C_BUILD)
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c tests/c/header_c99.c -o $(C_BUILD)/header_c99.o
	g++ -Wall -Wextra -Werror -Iinclude -c tests/c/header_cpp.cpp -o $(C_BUILD)/header_cpp.o

test-c-programs:
	$(MAKE) --no-print-directory lib-c PROFILE=$(TEST_PROFILE) LIB_C_FEATURES="$(TEST_FEATURES)"
	@mkdir -p $(C_BUILD)
	gcc $(CFLAGS_TEST) tests/c/test_sash.c -o $(C_BUILD)/test_sash $(TARGET_DIR)/$(TEST_PROFILE)/libsash.a $(C_LIBS)
	gcc $(CFLAGS_TEST) tests/c/test_sash.c -o $(C_BUILD)/test_sash_dyn -L$(TARGET_DIR)/$(TEST_PROFILE) -Wl,-rpath,$(TARGET_DIR)/$(TEST_PROFILE) -lsash
	gcc $(CFLAGS_TEST) -fsanitize=address -fno-omit-frame-pointer tests/c/test_sash.c -o $(C_BUILD)/test_sash_asan $(TARGET_DIR)/$(TEST_PROFILE)/libsash.a $(C_LIBS)
	$(C_BUILD)/test_sash_dyn
	$(VALGRIND) $(C_BUILD)/test_sash
	ASAN_OPTIONS=detect_leaks=1 $(C_BUILD)/test_sash_asan
	gcc $(CFLAGS_TEST) tests/c/test_bad_input.c -o $(C_BUILD)/test_bad_input $(TARGET_DIR)/$(TEST_PROFILE)/libsash.a $(C_LIBS)
	gcc $(CFLAGS_TEST) -fsanitize=address -fno-omit-frame-pointer tests/c/test_bad_input.c -o $(C_BUILD)/test_bad_input_asan $(TARGET_DIR)/$(TEST_PROFILE)/libsash.a $(C_LIBS)
	@# The library writes nothing to stderr, a caught panic included.
	$(VALGRIND) $(C_BUILD)/test_bad_input 2> $(C_BUILD)/bad_input.stderr; cat $(C_BUILD)/bad_input.stderr; test ! -s $(C_BUILD)/bad_input.stderr
	ASAN_OPTIONS=detect_leaks=1 $(C_BUILD)/test_bad_input_asan

test-c-install: test-c-programs
	rm -rf $(C_BUILD)/prefix
	$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(C_BUILD)/prefix INSTALL_PROFILE=$(TEST_PROFILE) LIB_C_FEATURES="$(TEST_FEATURES)"
	PKG_CONFIG_PATH=$(C_BUILD)/prefix/lib/pkgconfig gcc $(CFLAGS_TEST) tests/c/test_sash.c -o $(C_BUILD)/test_sash_installed \
	  $$(PKG_CONFIG_PATH=$(C_BUILD)/prefix/lib/pkgconfig pkg-config --cflags --libs sash) -Wl,-rpath,$(CURDIR)/$(C_BUILD)/prefix/lib
	$(C_BUILD)/test_sash_installed
	test "$$($(C_BUILD)/prefix/bin/sash --version)" = "sash $(SASH_VERSION)"

test-c-conformance:
	$(CARGO) test --profile $(TEST_PROFILE) -p sash-c $(TEST_FEATURES)

# ---- Go binding (bindings-go) ----
# The package's tests link the in-tree libsash.a (TEST_PROFILE) under the race
# detector; TestExternalModule (SASH_TEST_EXTERNAL=1) then builds and runs a
# scratch module that imports the package through a replace directive, with
# the cgo flags `pkg-config sash` gives for the prefix test-c-install made.
GO_PKG_CONFIG_PATH := $(CURDIR)/$(C_BUILD)/prefix/lib/pkgconfig
test-go: test-c-install ## Go binding tests (bindings-go, cgo + arrow-go cdata, -race): corpus, errors across goroutines, bad inputs, a module built against the installed libsash; the pure-Go sash serve client (bindings-go/client, no cgo)
	@command -v go >/dev/null || { echo "test-go: the Go toolchain is required (bindings-go)"; exit 1; }
	cd bindings-go && CGO_CFLAGS="-I$(CURDIR)/include" CGO_LDFLAGS="$(TARGET_DIR)/$(TEST_PROFILE)/libsash.a $(C_LIBS)" \
	  SASH_TEST_EXTERNAL=1 SASH_BIN=$(CURDIR)/$(C_BUILD)/prefix/bin/sash PKG_CONFIG_PATH=$(GO_PKG_CONFIG_PATH) go test -race -count=1 ./...
	# The socket client must build and pass without cgo (`sash serve` is its kernel).
	cd bindings-go && CGO_ENABLED=0 SASH_BIN=$(CURDIR)/$(C_BUILD)/prefix/bin/sash go test -count=1 ./client/

install: ## Install the `sash` command, libsash (.so, .a), include/sash.h and sash.pc under PREFIX (default /usr/local)
	$(MAKE) --no-print-directory lib-c PROFILE=$(INSTALL_PROFILE)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(TARGET_DIR)/$(INSTALL_PROFILE)/sash $(DESTDIR)$(BINDIR)/sash
	install -m 755 $(TARGET_DIR)/$(INSTALL_PROFILE)/libsash.so $(DESTDIR)$(LIBDIR)/libsash.so
	install -m 644 $(TARGET_DIR)/$(INSTALL_PROFILE)/libsash.a $(DESTDIR)$(LIBDIR)/libsash.a
	install -m 644 include/sash.h $(DESTDIR)$(INCLUDEDIR)/sash.h
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(SASH_VERSION)|' \
	  bindings-c/sash.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sash.pc

# ---- JVM binding (issue #6) ----
MVN         := mvn -B -q
# The stripped libsash_jvm.so the jar carries (the release profile keeps debug info for profiling).
JVM_NATIVE  := $(CURDIR)/bindings-jvm/target/native
JVM_FLAGS    = -Dsash.cargo.skip -Dsash.native.dir=$(JVM_NATIVE) -Dsash.spark.home=$(SPARK_HOME_VENV)
# Spark's distribution inside the venv's pyspark (bin/spark-class, bin/spark-submit, jars/): the cluster test runs on it.
SPARK_HOME_VENV = $(shell $(PY) -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null)
SASH_JAR    := bindings-jvm/target/sash-$(SASH_VERSION).jar
JVM_BENCH_ROWS ?= 10000000

# The profile lib-jvm builds with: test-jvm asks for test-opt (see Cargo.toml).
JVM_PROFILE ?= release
# What lib-jvm builds. test-jvm asks for the crates and targets test-rust
# builds: cargo then resolves the same crate features, so the library that
# test-rust's build already made is reused. Built alone (-p sash-jvm) its
# dependencies get other features (dev-dependencies add some), and make test
# compiled the arrow crates and sash-core again: 2.5 minutes.
JVM_BUILD ?= -p sash-jvm
lib-jvm: ## Build libsash_jvm.so (release) and its stripped copy for the jar
	$(CARGO) build --profile $(JVM_PROFILE) $(JVM_BUILD)
	@mkdir -p $(JVM_NATIVE)
	objcopy --strip-debug $(TARGET_DIR)/$(JVM_PROFILE)/libsash_jvm.so $(JVM_NATIVE)/libsash_jvm.so

jar: lib-jvm venv ## Build bindings-jvm/target/sash-<version>.jar (Java API, Spark integration, native library inside)
	cd bindings-jvm && $(MVN) $(JVM_FLAGS) package -DskipTests

# SnapshotChainTest carries a stream Python → Java → C → Python: it needs the
# wheel in the venv and the C step program (both already built in make test).
test-jvm: venv ## JVM binding tests: corpus through the Java API, Spark local[2] vs Spark's own operators, leaks, threads, a standalone Spark cluster, a snapshot chain across languages
	$(MAKE) --no-print-directory lib-jvm JVM_PROFILE=test-opt JVM_BUILD="$(RUST_TEST_CRATES) --lib --tests"
	$(MAKE) --no-print-directory python-dev PY_PROFILE=test-opt
	$(MAKE) --no-print-directory $(C_BUILD)/snapshot_step
	cd bindings-jvm && $(MVN) $(JVM_FLAGS) -Dsash.python=$(abspath $(PY)) -Dsash.bin=$(TARGET_DIR)/$(TEST_PROFILE)/sash verify

$(C_BUILD)/snapshot_step: tests/c/snapshot_step.c tests/c/arrow_build.h include/sash.h
	$(MAKE) --no-print-directory lib-c PROFILE=$(TEST_PROFILE) LIB_C_FEATURES="$(TEST_FEATURES)"
	@mkdir -p $(C_BUILD)
	@# It uses a few of the shared helpers: the others are unused here.
	gcc $(CFLAGS_TEST) -Wno-unused-function tests/c/snapshot_step.c -o $@ $(TARGET_DIR)/$(TEST_PROFILE)/libsash.a $(C_LIBS)

bench: bench-rust python-dev ## Benchmark sash (Rust and through the Python wheel) against DuckDB, Polars, pandas on 10M rows, sorted and shuffled; then the C path (bench-c), the JVM (bench-jvm), Flink (bench-flink), threads (bench-threads), the command (bench-cli) and the socket service (bench-serve)
	$(PY) bench/run.py
	$(PY) bench/unsorted.py
	$(MAKE) --no-print-directory bench-parse
	$(MAKE) --no-print-directory bench-quantile
	$(MAKE) --no-print-directory bench-c
	$(MAKE) --no-print-directory bench-jvm
	$(MAKE) --no-print-directory bench-flink
	$(MAKE) --no-print-directory bench-threads
	$(MAKE) --no-print-directory bench-cli
	$(MAKE) --no-print-directory bench-serve

bench-serve: python-dev ## sash serve (the release binary make install ships) through the Python client against the same calls in-process: 10M-row tumbling round trip, 1 GB parse end to end, the socket's copy floor, Arrow Flight's published figures; writes bench/results-serve.md
	$(CARGO) build --release -p sash-cli
	$(PY) bench/serve.py --server $(TARGET_DIR)/release/sash

bench-threads: bench-rust venv ## Every kernel with 1 and all threads, and against DuckDB and Polars with all theirs; writes bench/results-threads.md
	$(PY) bench/threads.py

# The command's peers, for bench-cli only: Debian's GoAccess (unpacked into
# .tools/goaccess, no root needed) and angle-grinder from crates.io.
GOACCESS := $(TOOLS)/goaccess/usr/bin/goaccess
AGRIND   := $(TOOLS)/bin/agrind
$(GOACCESS):
	rm -rf $(TOOLS)/debs && mkdir -p $(TOOLS)/debs
	cd $(TOOLS)/debs && apt-get download goaccess libmaxminddb0
	for deb in $(TOOLS)/debs/*.deb; do dpkg -x "$$deb" $(TOOLS)/goaccess; done
$(AGRIND):
	CARGO_TARGET_DIR=$(TARGET_DIR)/ag-build $(CARGO) install ag --locked --root $(TOOLS)

bench-cli: python-dev $(GOACCESS) $(AGRIND) ## The sash command on a 1 GB access log: its cost over the kernel and the floors, against GoAccess and angle-grinder; writes bench/results-cli.md
	$(CARGO) build --release -p sash-cli
	$(PY) bench/cli.py

bench-quantile: python-dev ## Rolling exact median and 0.9 quantile (2M rows, 100 keys, 5-minute windows) against Polars' rolling_quantile_by; writes bench/results-quantile.md
	$(PY) bench/rolling_quantile.py

bench-parse: venv ## Parse 1M lines per format against Polars, DuckDB and pyarrow on the same bytes; writes bench/results-parse.md
	$(PY) bench/parse_report.py

bench-jvm: lib-jvm venv ## JNI overhead vs the kernel, and SashSpark vs Spark's own window aggregation and regexp parsing (10M rows, local[2]); writes bench/results-jvm.md
	cd bindings-jvm && $(MVN) $(JVM_FLAGS) test-compile exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
	  -Dexec.args="$$(sed -n 's:.*<spark.jvm.options>\(.*\)</spark.jvm.options>.*:\1:p' pom.xml) -Xmx12g -classpath %classpath dev.sash.bench.JvmBench $(CURDIR) $(CURDIR)/bench/results-jvm.md $(JVM_BENCH_ROWS)"

# Flink comes from Maven Central for this target only (bench/flink is its own
# Maven project; make test never builds it).
FLINK_BENCH_ROWS ?= 10000000
bench-flink: jar ## WindowStream from Java against Apache Flink's DataStream API (MiniCluster, parallelism 1): the tumbling case and Nexmark q5/q7/q11; writes bench/results-flink.md
	$(PY) bench/gen_data.py
	cd bench/flink && $(MVN) -Dsash.jar=$(CURDIR)/$(SASH_JAR) compile exec:exec -Dexec.executable=java -Dexec.classpathScope=compile \
	  -Dexec.args="$$(sed -n 's:.*<spark.jvm.options>\(.*\)</spark.jvm.options>.*:\1:p' ../../bindings-jvm/pom.xml) -Xmx12g -classpath %classpath dev.sash.bench.FlinkBench $(CURDIR) $(CURDIR)/bench/results-flink.md $(FLINK_BENCH_ROWS)"

bench-c: ## Time the 10M-row tumbling case through the C ABI against the Rust kernel (issue #5: <= 2% overhead)
	$(CARGO) bench -p sash-c --bench c_path | tee bench/results-c.json

bench-rust: ## Build the Rust kernel benchmark binary only
	$(CARGO) build --release -p sash-core --bench kernels

lint: ## rustfmt check and clippy with -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the Rust code
	$(CARGO) fmt --all

clean: ## Remove build outputs, the venv and the project-local tools
	$(CARGO) clean
	rm -rf $(VENV) $(C_BUILD) $(TOOLS)

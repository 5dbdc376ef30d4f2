package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TimeStampMilliVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile and wrong inputs through the public Java API, as a demanding user
 * would give them: each row is an input, the exception it must throw (class,
 * kind, a word of the message) or none, and every row then checks that the
 * library still works (a good call right after), so the JVM surviving a row
 * is what lets the next one run. Every row ends with its allocator at zero
 * bytes: a failing call leaks nothing.
 */
class BadInputTest {
    private BufferAllocator allocator;

    @BeforeEach
    void open() {
        allocator = new RootAllocator();
    }

    @AfterEach
    void everyByteReturned() {
        assertFalse(Thread.currentThread().isInterrupted(), "a row left the thread interrupted");
        assertEquals(0, allocator.getAllocatedMemory(), "the allocator must end at zero bytes");
        allocator.close();
    }

    /** The body of a row: its input and call. */
    interface Call {
        void run(BufferAllocator allocator) throws Exception;
    }

    /**
     * A row: {@code expected} null means the call must succeed (its body
     * checks the result); {@code kind} is the sash kind of the exception (or
     * of an IOException's cause), null for an exception of Java or Arrow Java.
     */
    record Row(String name, Call call, Class<? extends Throwable> expected, String kind, String messageContains) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Row row(String name, Class<? extends Throwable> expected, String kind, String messageContains, Call call) {
        return new Row(name, call, expected, kind, messageContains);
    }

    static Row works(String name, Call call) {
        return new Row(name, call, null, null, null);
    }

    static final WindowSpec GOOD_WINDOW = WindowSpec.tumbling("ts", "1m").by("host").agg("count() as n").build();
    static final String WINDOW_KEYS = "\"time\": \"ts\", \"every\": \"1m\"";

    static WindowSpec window(String json) {
        return WindowSpec.fromJson(json);
    }

    /** A window aggregation of the six events of {@link SashApiTest#events}. */
    static void windowOnEvents(BufferAllocator allocator, WindowSpec spec) {
        try (VectorSchemaRoot in = SashApiTest.events(allocator); VectorSchemaRoot out = Sash.windowAgg(in, spec, allocator)) {
            fail("expected an error, got " + out.getRowCount() + " rows");
        }
    }

    static void rollingOnEvents(BufferAllocator allocator, RollingSpec spec) {
        try (VectorSchemaRoot in = SashApiTest.events(allocator); VectorSchemaRoot out = Sash.rolling(in, spec, allocator)) {
            fail("expected an error, got " + out.getRowCount() + " rows");
        }
    }

    static VarCharVector lines(BufferAllocator allocator, String... lines) {
        VarCharVector vector = new VarCharVector("line", allocator);
        for (int i = 0; i < lines.length; i++) vector.setSafe(i, lines[i].getBytes(StandardCharsets.UTF_8));
        vector.setValueCount(lines.length);
        return vector;
    }

    static void parseLines(BufferAllocator allocator, ParseSpec spec, String... input) {
        try (VarCharVector in = lines(allocator, input); VectorSchemaRoot out = Sash.parse(in, spec, allocator)) {
            fail("expected an error, got " + out.getRowCount() + " rows");
        }
    }

    /** {@code rows} rows, one per millisecond, over 100 keys; v is random. */
    static VectorSchemaRoot big(BufferAllocator allocator, int rows) {
        TimeStampMilliVector ts = new TimeStampMilliVector("ts", allocator);
        IntVector k = new IntVector("k", allocator);
        Float8Vector v = new Float8Vector("v", allocator);
        ts.allocateNew(rows);
        k.allocateNew(rows);
        v.allocateNew(rows);
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < rows; i++) {
            ts.set(i, i);
            k.set(i, i % 100);
            v.set(i, random.nextDouble());
        }
        VectorSchemaRoot root = VectorSchemaRoot.of(ts, k, v);
        root.setRowCount(rows);
        return root;
    }

    static final int BIG = 3_000_000;

    /** Runs {@code call} on this thread with its interrupt flag set; the flag must still be set after, and is cleared. */
    static void interrupted(Call call, BufferAllocator allocator) throws Exception {
        Thread.currentThread().interrupt();
        try {
            call.run(allocator);
        } finally {
            boolean stillSet = Thread.interrupted(); // clears it for the next row
            assertTrue(stillSet, "sash must leave the thread's interrupt status set");
        }
    }

    /** A JSON value nested {@code depth} arrays deep. */
    static String nested(int depth) {
        return "[".repeat(depth) + "]".repeat(depth);
    }

    static final String COMBINED = "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.0\" 200 2326 \"-\" \"curl\"";

    static Stream<Row> rows() {
        return Stream.of(
                // ---- null arguments: Java's own checks, before any native call
                row("null WindowSpec", NullPointerException.class, null, "spec",
                        a -> { try (VectorSchemaRoot in = SashApiTest.events(a)) { Sash.windowAgg(in, (WindowSpec) null, a); } }),
                row("null RollingSpec", NullPointerException.class, null, "spec",
                        a -> { try (VectorSchemaRoot in = SashApiTest.events(a)) { Sash.rolling(in, (RollingSpec) null, a); } }),
                row("null ParseSpec", NullPointerException.class, null, "spec",
                        a -> { try (VarCharVector in = lines(a, COMBINED)) { Sash.parse(in, null, a); } }),
                row("null VectorSchemaRoot", NullPointerException.class, null, "input",
                        a -> Sash.windowAgg((VectorSchemaRoot) null, GOOD_WINDOW, a)),
                row("null vector of lines", NullPointerException.class, null, "lines",
                        a -> Sash.parse((FieldVector) null, ParseSpec.of("combined"), a)),
                row("null ArrowReader", NullPointerException.class, null, "input",
                        a -> Sash.rolling((ArrowReader) null, RollingSpec.builder("ts", "1m").agg("count()").build(), a)),
                row("null allocator", NullPointerException.class, null, "allocator",
                        a -> { try (VectorSchemaRoot in = SashApiTest.events(a)) { Sash.windowAgg(in, GOOD_WINDOW, null); } }),
                row("null JSON for a spec", NullPointerException.class, null, "json", a -> WindowSpec.fromJson(null)),
                row("null spec string at the JNI layer", SashSpecException.class, "null_argument", "spec is null", a -> {
                    try (VectorSchemaRoot in = SashApiTest.events(a)) { Kernel.batch(Kernel.Op.WINDOW, in, null, null, false, a); }
                }),
                row("null path for readLog", NullPointerException.class, null, "path", a -> Sash.readLog(null, ParseSpec.of("combined"), a)),

                // ---- closed, released and foreign inputs
                row("a closed VectorSchemaRoot", SashException.class, "invalid_array", "", a -> {
                    VectorSchemaRoot in = SashApiTest.events(a);
                    in.close();
                    windowOnEvents2(a, in);
                }),
                row("vectors of a closed allocator", SashException.class, "invalid_array", "", a -> {
                    BufferAllocator child = a.newChildAllocator("closed", 0, Long.MAX_VALUE);
                    VectorSchemaRoot in = SashApiTest.events(child);
                    in.close();
                    child.close();
                    windowOnEvents2(a, in);
                }),
                row("a closed allocator for the result", IllegalStateException.class, null, "closed", a -> {
                    BufferAllocator closed = a.newChildAllocator("closed", 0, Long.MAX_VALUE);
                    closed.close();
                    try (VectorSchemaRoot in = SashApiTest.events(a)) { Sash.windowAgg(in, GOOD_WINDOW, closed); }
                }),
                works("input and result in two unrelated allocators", a -> {
                    try (BufferAllocator other = new RootAllocator();
                         VectorSchemaRoot in = SashApiTest.events(other);
                         VectorSchemaRoot out = Sash.windowAgg(in, GOOD_WINDOW, a)) {
                        assertEquals(5, out.getRowCount());
                        assertTrue(a.getAllocatedMemory() > 0, "the result is accounted to the allocator it was asked for");
                        in.close();
                        assertEquals(0, other.getAllocatedMemory());
                    }
                }),
                row("a result allocator too small for the result", OutOfMemoryException.class, null, "limit", a -> {
                    try (BufferAllocator tiny = a.newChildAllocator("tiny", 0, 1024);
                         VectorSchemaRoot in = big(a, 100_000);
                         VectorSchemaRoot out = Sash.rolling(in, RollingSpec.builder("ts", "1m").agg("sum(v) as s").build(), tiny)) {
                        fail("a 1 KiB allocator took " + out.getRowCount() + " rows");
                    }
                }),
                row("a dictionary-encoded column without its provider", SashSpecException.class, "null_argument", "dictionary-encoded", a -> {
                    try (VarCharVector values = new VarCharVector("dict", a);
                         VarCharVector hosts = new VarCharVector("host", a)) {
                        values.setSafe(0, "a".getBytes(StandardCharsets.UTF_8));
                        values.setSafe(1, "b".getBytes(StandardCharsets.UTF_8));
                        values.setValueCount(2);
                        for (int i = 0; i < 6; i++) hosts.setSafe(i, (i % 2 == 0 ? "a" : "b").getBytes(StandardCharsets.UTF_8));
                        hosts.setValueCount(6);
                        Dictionary dictionary = new Dictionary(values, new DictionaryEncoding(1L, false, null));
                        try (VectorSchemaRoot events = SashApiTest.events(a);
                             FieldVector encoded = (FieldVector) DictionaryEncoder.encode(hosts, dictionary)) {
                            List<FieldVector> columns = new ArrayList<>(List.of(events.getVector("ts"), encoded, events.getVector("latency")));
                            VectorSchemaRoot in = new VectorSchemaRoot(columns);
                            in.setRowCount(6);
                            Sash.windowAgg(in, GOOD_WINDOW, a);
                        }
                    }
                }),

                // ---- specs the kernel refuses
                row("spec: not JSON", SashSpecException.class, "invalid_spec", "", a -> windowOnEvents(a, window("{not json"))),
                row("spec: empty string", SashSpecException.class, "invalid_spec", "", a -> windowOnEvents(a, window(""))),
                row("spec: a duplicate key", SashSpecException.class, "invalid_spec", "every",
                        a -> windowOnEvents(a, window("{" + WINDOW_KEYS + ", \"every\": \"2m\", \"aggs\": [\"count()\"]}"))),
                row("spec: an unknown key", SashSpecException.class, "invalid_spec", "evry",
                        a -> windowOnEvents(a, window("{\"time\": \"ts\", \"evry\": \"1m\", \"aggs\": [\"count()\"]}"))),
                row("spec: nested 200,000 deep", SashSpecException.class, "invalid_spec", "",
                        a -> windowOnEvents(a, window("{" + WINDOW_KEYS + ", \"aggs\": " + nested(200_000) + "}"))),
                row("duration \"1x\"", SashSpecException.class, "invalid_duration", "1x",
                        a -> windowOnEvents(a, WindowSpec.tumbling("ts", "1x").agg("count()").build())),
                row("duration \"1h1h\"", SashSpecException.class, "invalid_duration", "1h1h",
                        a -> windowOnEvents(a, WindowSpec.tumbling("ts", "1h1h").agg("count()").build())),
                row("duration \"1M\" (months have no fixed length)", SashSpecException.class, "invalid_duration", "1M",
                        a -> rollingOnEvents(a, RollingSpec.builder("ts", "1M").agg("count()").build())),
                row("an unknown function", SashSpecException.class, "unknown_function", "frobnicate",
                        a -> windowOnEvents(a, WindowSpec.tumbling("ts", "1m").agg("frobnicate(latency)").build())),
                row("an unknown column", SashSpecException.class, "unknown_column", "nope",
                        a -> windowOnEvents(a, WindowSpec.tumbling("ts", "1m").by("nope").agg("count()").build())),
                row("a string column as the time", SashSpecException.class, "wrong_type", "host",
                        a -> windowOnEvents(a, WindowSpec.tumbling("host", "1m").agg("count()").build())),
                row("the sum of a string column", SashSpecException.class, "wrong_type", "host",
                        a -> rollingOnEvents(a, RollingSpec.builder("ts", "1m").agg("sum(host)").build())),
                row("every 1ms, period 1000d: billions of windows from 2 rows", SashException.class, "resource_limit", "windows", a -> {
                    try (VectorSchemaRoot in = SashApiTest.events(a)) {
                        in.setRowCount(2);
                        Sash.windowAgg(in, WindowSpec.hopping("ts", "1ms", "1000d").agg("count() as n").build(), a);
                    }
                }),
                row("an alias inside an aggs mapping", SashSpecException.class, null, "",
                        a -> windowOnEvents(a, window("{" + WINDOW_KEYS + ", \"aggs\": {\"n\": \"count() as m\"}}"))),
                row("parse: an unknown format", SashSpecException.class, "invalid_spec", "clf",
                        a -> parseLines(a, ParseSpec.of("clf"), COMBINED)),
                row("parse: regex without a pattern", SashSpecException.class, "invalid_spec", "pattern",
                        a -> parseLines(a, ParseSpec.of("regex"), COMBINED)),
                row("parse: on_error raise and a bad line", SashException.class, "parse", "",
                        a -> parseLines(a, ParseSpec.builder("combined").onError("raise").build(), COMBINED, "garbage")),
                works("parse: a JSON line nested 200,000 deep is an error row", a -> {
                    try (VarCharVector in = lines(a, "{\"a\": 1}", "{\"a\": " + nested(200_000) + "}", "{\"a\": 2}");
                         VectorSchemaRoot out = Sash.parse(in, ParseSpec.builder("json").option("schema", List.of(Map.of("name", "a", "type", "int64"))).build(), a)) {
                        assertEquals(3, out.getRowCount());
                        assertNull(out.getVector("_error").getObject(0));
                        assertNotNull(out.getVector("_error").getObject(1), "the deep line must be marked failed");
                        assertTrue(out.getVector("_error").getObject(1).toString().contains("nested"), out.getVector("_error").getObject(1).toString());
                        assertNull(out.getVector("_error").getObject(2));
                    }
                }),
                row("a lone surrogate in an expression", SashSpecException.class, "invalid_expression", "count()",
                        a -> windowOnEvents(a, WindowSpec.tumbling("ts", "1m").agg("count() as n\uD800").build())),

                // ---- data the kernel refuses
                row("null times with null_time error", SashException.class, "null_time", "ts", a -> {
                    try (VectorSchemaRoot in = SashApiTest.events(a)) {
                        ((TimeStampMilliVector) in.getVector("ts")).setNull(2);
                        Sash.windowAgg(in, GOOD_WINDOW, a);
                    }
                }),
                row("an integer sum that overflows", SashException.class, "overflow", "", a -> {
                    try (TimeStampMilliVector ts = new TimeStampMilliVector("ts", a); BigIntVector v = new BigIntVector("v", a)) {
                        for (int i = 0; i < 3; i++) { ts.setSafe(i, i); v.setSafe(i, Long.MAX_VALUE); }
                        VectorSchemaRoot in = VectorSchemaRoot.of(ts, v);
                        in.setRowCount(3);
                        Sash.windowAgg(in, WindowSpec.tumbling("ts", "1m").agg("sum(v) as s").build(), a);
                    }
                }),
                row("readLog of a file that is not there", SashException.class, "invalid_input", "/nonexistent/x.log",
                        a -> Sash.readLog(Path.of("/nonexistent/x.log"), ParseSpec.of("combined"), a)),
                row("readLog of a directory", IOException.class, "invalid_input", "", a -> {
                    try (ArrowReader r = Sash.readLog(Path.of(System.getProperty("java.io.tmpdir")), ParseSpec.of("combined"), a)) {
                        while (r.loadNextBatch()) { /* drain */ }
                    }
                }),
                row("a parse stream with on_error raise: the pull throws", IOException.class, "parse", "", a -> {
                    VarCharVector in = lines(a, COMBINED, "garbage");
                    VectorSchemaRoot batch = VectorSchemaRoot.of(in);
                    try (ArrowReader r = Sash.parse(new RootsReader(a, List.of(batch)), ParseSpec.builder("combined").onError("raise").build(), a)) {
                        while (r.loadNextBatch()) { /* drain */ }
                    }
                }),

                // ---- cancellation: an interrupted thread
                row("interrupted: a rolling quantile over 3M rows", SashCancelledException.class, "cancelled", "cancelled", a -> {
                    try (VectorSchemaRoot in = big(a, BIG)) {
                        interrupted(x -> Sash.rolling(in, RollingSpec.builder("ts", "1h").by("k").agg("median(v) as m").build(), x).close(), a);
                    }
                }),
                row("interrupted: a window over 3M rows", SashCancelledException.class, "cancelled", "cancelled", a -> {
                    try (VectorSchemaRoot in = big(a, BIG)) {
                        interrupted(x -> Sash.windowAgg(in, WindowSpec.hopping("ts", "1s", "1m").by("k").agg("quantile(v, 0.9) as p").build(), x).close(), a);
                    }
                }),
                works("interrupted from another thread in the middle of calls", BadInputTest::interruptedMidCall),
                works("interrupted: a pull of a parse stream, then pulled again", BadInputTest::interruptedPull),

                // ---- streams: a push is checked against the first push's schema; snapshots whole
                row("a stream push with another schema than the first", SashException.class, "invalid_input", "first push", a -> {
                    try (WindowStream stream = new WindowStream("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count()\"]}");
                         VectorSchemaRoot first = SashApiTest.events(a);
                         VectorSchemaRoot out = stream.push(first, a);
                         VectorSchemaRoot other = big(a, 10)) {
                        stream.push(other, a).close();
                    }
                }),
                row("a stream restored from garbage after the magic", SashException.class, "invalid_input", "snapshot",
                        a -> WindowStream.restore("SASHSNAP and then nothing a snapshot holds".getBytes(StandardCharsets.UTF_8)).close()),
                row("a rolling stream restored from no bytes", SashException.class, "invalid_input", "snapshot",
                        a -> RollingStream.restore(new byte[0]).close()),
                row("a stream push after finish", SashException.class, "invalid_input", "finish", a -> {
                    try (WindowStream stream = new WindowStream("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count()\"]}")) {
                        stream.finish(a).close();
                        try (VectorSchemaRoot in = SashApiTest.events(a)) {
                            stream.push(in, a).close();
                        }
                    }
                }),

                // ---- threads: 8 at once, each failing its own way
                works("8 threads with failing specs each get their own message", BadInputTest::eightFailingThreads));
    }

    /** Calls windowAgg on a root the row has already closed (the root is not closed again). */
    static void windowOnEvents2(BufferAllocator allocator, VectorSchemaRoot closed) {
        try (VectorSchemaRoot out = Sash.windowAgg(closed, GOOD_WINDOW, allocator)) {
            fail("a closed root gave " + out.getRowCount() + " rows");
        }
    }

    /**
     * The use Thread.interrupt() is for: a worker runs long calls, another
     * thread interrupts it; the call running then (or the next one) stops
     * with SashCancelledException within a few checks, and the worker's
     * interrupt status is still set when it catches it.
     */
    static void interruptedMidCall(BufferAllocator allocator) throws Exception {
        try (VectorSchemaRoot in = big(allocator, BIG)) {
            RollingSpec spec = RollingSpec.builder("ts", "1h").by("k").agg("median(v) as m").build();
            java.util.concurrent.atomic.AtomicReference<Throwable> thrown = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean flagSet = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
            CountDownLatch running = new CountDownLatch(1);
            Thread worker = new Thread(() -> {
                try {
                    running.countDown();
                    long end = System.nanoTime() + 60_000_000_000L;
                    while (System.nanoTime() < end) {
                        Sash.rolling(in, spec, allocator).close();
                        calls.incrementAndGet();
                    }
                } catch (Throwable t) {
                    thrown.set(t);
                }
                flagSet.set(Thread.currentThread().isInterrupted());
            }, "sash-worker");
            worker.start();
            running.await();
            Thread.sleep(100);
            long interruptedAt = System.nanoTime();
            worker.interrupt();
            worker.join(30_000);
            long stopMillis = (System.nanoTime() - interruptedAt) / 1_000_000;
            assertFalse(worker.isAlive(), "the worker did not stop");
            assertTrue(thrown.get() instanceof SashCancelledException, "the worker ended with " + thrown.get());
            assertEquals("cancelled", ((SashException) thrown.get()).kind());
            assertTrue(flagSet.get(), "the worker's interrupt status must still be set");
            System.out.printf("interrupt: the worker stopped %d ms after the interrupt (%d calls had finished)%n", stopMillis, calls.get());
            assertTrue(stopMillis < 5_000, "stopping took " + stopMillis + " ms");
        }
    }

    /** A pull cancelled by the interrupt throws InterruptedIOException; once cleared, the next pulls go on. */
    static void interruptedPull(BufferAllocator allocator) throws Exception {
        int lines = 400_000;
        List<VectorSchemaRoot> batches = new ArrayList<>();
        for (int b = 0; b < 3; b++) {
            String[] text = new String[lines];
            java.util.Arrays.fill(text, COMBINED);
            batches.add(VectorSchemaRoot.of(lines(allocator, text)));
        }
        try (ArrowReader r = Sash.parse(new RootsReader(allocator, batches), ParseSpec.of("combined"), allocator)) {
            Thread.currentThread().interrupt();
            IOException e;
            try {
                r.loadNextBatch();
                e = null;
            } catch (IOException thrown) {
                e = thrown;
            } finally {
                assertTrue(Thread.interrupted(), "the interrupt status stays set");
            }
            assertNotNull(e, "a pull of 400,000 lines on an interrupted thread must be cancelled");
            assertSame(InterruptedIOException.class, e.getClass(), e.toString());
            assertTrue(e.getCause() instanceof SashCancelledException, String.valueOf(e.getCause()));
            assertEquals("cancelled", ((SashException) e.getCause()).kind());
            long rows = 0;
            while (r.loadNextBatch()) rows += r.getVectorSchemaRoot().getRowCount();
            assertEquals(3L * lines, rows, "the stream goes on where the cancelled pull stopped");
        }
    }

    /** 8 threads at once, each with its own failing spec, 50 times: each gets its own kind and message. */
    static void eightFailingThreads(BufferAllocator allocator) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                final int id = t;
                Callable<String> job = () -> {
                    start.await();
                    for (int i = 0; i < 50; i++) {
                        String column = "missing_" + id + "_" + i;
                        WindowSpec spec = id % 2 == 0
                                ? WindowSpec.tumbling("ts", "1m").agg("sum(" + column + ")").build()
                                : WindowSpec.tumbling("ts", id + "x" + i).agg("count()").build();
                        try (VectorSchemaRoot in = SashApiTest.events(allocator)) {
                            Sash.windowAgg(in, spec, allocator).close();
                            return "thread " + id + ": no error";
                        } catch (SashSpecException e) {
                            String want = id % 2 == 0 ? column : id + "x" + i;
                            String kind = id % 2 == 0 ? "unknown_column" : "invalid_duration";
                            if (!e.kind().equals(kind) || !e.getMessage().contains(want)) {
                                return "thread " + id + " call " + i + ": got " + e.kind() + " '" + e.getMessage() + "', want " + kind + " with " + want;
                            }
                        }
                    }
                    return null;
                };
                results.add(pool.submit(job));
            }
            start.countDown();
            for (Future<String> r : results) assertNull(r.get());
        } finally {
            pool.shutdownNow();
        }
    }

    /** The library still works: a good call after each row. */
    void stillWorks() {
        try (VectorSchemaRoot in = SashApiTest.events(allocator); VectorSchemaRoot out = Sash.windowAgg(in, GOOD_WINDOW, allocator)) {
            assertEquals(5, out.getRowCount());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void badInput(Row row) {
        Throwable thrown = null;
        try {
            row.call().run(allocator);
        } catch (Throwable t) {
            thrown = t;
        }
        if (row.expected() == null) {
            if (thrown != null) throw new AssertionError(row.name() + ": expected no exception, got " + thrown, thrown);
        } else {
            assertNotNull(thrown, row.name() + ": expected " + row.expected().getSimpleName());
            if (thrown.getClass() != row.expected()) throw new AssertionError(row.name() + ": expected " + row.expected().getName() + ", got " + thrown, thrown);
            String message = String.valueOf(thrown.getMessage());
            assertTrue(message.contains(row.messageContains()), row.name() + ": message '" + message + "' lacks '" + row.messageContains() + "'");
            if (row.kind() != null) assertEquals(row.kind(), kindOf(thrown), row.name() + ": " + thrown);
        }
        stillWorks();
    }

    /** The sash kind of an exception, or of an IOException's cause. */
    static String kindOf(Throwable t) {
        if (t instanceof SashSpecException e) return e.kind();
        if (t instanceof SashException e) return e.kind();
        if (t instanceof IOException && t.getCause() != null) return kindOf(t.getCause());
        return null;
    }
}

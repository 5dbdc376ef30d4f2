package dev.sash.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sash.SashException;
import dev.sash.StreamStats;
import dev.sash.client.SashClient.RemoteStream;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * dev.sash.client.SashClient against a real {@code sash serve} (the binary of
 * -Dsash.bin, $SASH_BIN or ../target/debug/sash): results as hand-computed,
 * errors with the server's kinds, streams that snapshot and restore, clients
 * on 16 threads, a server killed mid-answer, no native code, nothing leaked.
 */
class SashClientTest {
    static final String COMMON_LINE = "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326";
    static final String WINDOW = "{\"time\": \"ts\", \"every\": 10, \"aggs\": [\"count() as n\", \"sum(v) as s\"]}";
    static final String ROLLING = "{\"time\": \"ts\", \"period\": 10, \"aggs\": [\"sum(v) as s\"]}";
    static final String STREAM = "{\"time\": \"ts\", \"every\": 10, \"aggs\": [\"count() as n\"], \"lateness\": 2}";
    static final long[] TS = {1, 5, 11, 12, 25};
    static final double[] V = {1, 2, 3, 4, 5};

    static Path dir;
    static Path socket;
    static Process server;
    BufferAllocator allocator;

    static Path binary() {
        String explicit = System.getProperty("sash.bin", System.getenv("SASH_BIN"));
        Path bin = explicit != null && !explicit.isEmpty() ? Path.of(explicit)
                : Path.of(System.getProperty("sash.repo.root", "..")).resolve("target/debug/sash");
        assertTrue(Files.isExecutable(bin), "no sash binary at " + bin.toAbsolutePath()
                + ": build it (cargo build -p sash-cli) or pass -Dsash.bin=PATH or SASH_BIN=PATH");
        return bin;
    }

    /** Starts {@code sash serve --socket path} (with {@code options}) and waits until a client connects. */
    static Process serve(Path path, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(binary().toString(), "serve", "--socket", path.toString()));
        command.addAll(List.of(options));
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true).redirectOutput(dir.resolve(path.getFileName() + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            assertTrue(process.isAlive(), () -> "sash serve exited: " + log(path));
            try (BufferAllocator a = new RootAllocator(); SashClient client = SashClient.connect(path, a)) {
                assertTrue(client.version().matches("\\d+\\.\\d+\\.\\d+.*"));
                return process;
            } catch (java.io.UncheckedIOException e) {
                if (System.nanoTime() > deadline) process.destroyForcibly();
                assertTrue(System.nanoTime() < deadline, () -> "sash serve did not listen within 20 s: " + log(path));
                Thread.sleep(20);
            }
        }
    }

    static String log(Path path) {
        try {
            return Files.readString(dir.resolve(path.getFileName() + ".log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    @BeforeAll
    static void startServer() throws Exception {
        dir = Files.createTempDirectory("sash-client-test");
        socket = dir.resolve("s.sock");
        server = serve(socket);
    }

    @AfterAll
    static void stopServer() throws Exception {
        try {
            if (server != null) { // else it did not start, and startServer said why
                server.destroy(); // SIGTERM
                assertTrue(server.waitFor(20, TimeUnit.SECONDS), "sash serve did not stop on SIGTERM");
                assertEquals(0, server.exitValue(), () -> log(socket));
                assertFalse(Files.exists(socket), "the socket file is removed");
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path file : files.toList()) Files.deleteIfExists(file);
            }
            Files.deleteIfExists(dir);
        }
    }

    @BeforeEach
    void open() {
        allocator = new RootAllocator();
    }

    @AfterEach
    void everyByteReturned() {
        assertEquals(0, allocator.getAllocatedMemory(), "the allocator must end at zero bytes");
        allocator.close();
    }

    static VectorSchemaRoot events(BufferAllocator allocator, long[] ts, double[] v) {
        BigIntVector t = new BigIntVector("ts", allocator);
        List<FieldVector> vectors = new ArrayList<>(List.of(t));
        for (int i = 0; i < ts.length; i++) t.setSafe(i, ts[i]);
        if (v != null) {
            Float8Vector x = new Float8Vector("v", allocator);
            for (int i = 0; i < v.length; i++) x.setSafe(i, v[i]);
            vectors.add(x);
        }
        VectorSchemaRoot root = new VectorSchemaRoot(vectors);
        root.setRowCount(ts.length);
        return root;
    }

    /** A column's values (strings as String). */
    static List<Object> column(VectorSchemaRoot root, String name) {
        List<Object> values = new ArrayList<>();
        for (int i = 0; i < root.getRowCount(); i++) {
            Object value = root.getVector(name).getObject(i);
            values.add(value instanceof org.apache.arrow.vector.util.Text ? value.toString() : value);
        }
        return values;
    }

    static List<String> names(VectorSchemaRoot root) {
        return root.getSchema().getFields().stream().map(f -> f.getName()).toList();
    }

    static void checkWindowAgg(SashClient client, BufferAllocator allocator) {
        try (VectorSchemaRoot in = events(allocator, TS, V); VectorSchemaRoot out = client.windowAgg(in, WINDOW)) {
            assertEquals(List.of("window_start", "window_end", "n", "s"), names(out));
            assertEquals(List.of(0L, 10L, 20L), column(out, "window_start"));
            assertEquals(List.of(10L, 20L, 30L), column(out, "window_end"));
            assertEquals(List.of(2L, 2L, 1L), column(out, "n"));
            assertEquals(List.of(3.0, 7.0, 5.0), column(out, "s"));
        }
    }

    static void checkRolling(SashClient client, BufferAllocator allocator) {
        try (VectorSchemaRoot in = events(allocator, TS, V); VectorSchemaRoot out = client.rolling(in, ROLLING)) {
            assertEquals(List.of("ts", "v", "s"), names(out));
            assertEquals(List.of(1L, 5L, 11L, 12L, 25L), column(out, "ts"));
            // (t - 10, t]: {1}, {1, 5}, {5, 11}, {5, 11, 12}, {25}
            assertEquals(List.of(1.0, 3.0, 5.0, 9.0, 5.0), column(out, "s"));
        }
    }

    static void checkParse(SashClient client) {
        String frank = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";
        try (VectorSchemaRoot out = client.parse(Arrays.asList(frank, "not a log line", COMMON_LINE), "{\"format\": \"common\"}")) {
            assertEquals(3, out.getRowCount());
            // Fields parsed before a failure keep their values (docs/parsing.md, "Errors").
            assertEquals(Arrays.asList("frank", "log", null), column(out, "user"));
            assertEquals(Arrays.asList("/apache_pb.gif", null, "/"), column(out, "path"));
            List<Object> errors = column(out, "_error");
            assertNull(errors.get(0));
            assertTrue(errors.get(1).toString().contains("byte"), errors.toString());
            assertNull(errors.get(2));
        }
    }

    static List<long[]> checkStream(RemoteStream stream, BufferAllocator allocator) {
        List<long[]> results = new ArrayList<>();
        results.add(push(stream, allocator, 25)); // watermark 23: [0, 10) and [10, 20) close
        results.add(push(stream, allocator, 2)); // late
        try (VectorSchemaRoot late = stream.takeLate()) {
            assertEquals(List.of(2L), column(late, "ts"));
        }
        assertEquals(OptionalLong.of(23), stream.watermark());
        results.add(counts(stream.advance(40)));
        results.add(counts(stream.finish()));
        return results;
    }

    static long[] push(RemoteStream stream, BufferAllocator allocator, long... ts) {
        try (VectorSchemaRoot in = events(allocator, ts, null)) {
            return counts(stream.push(in));
        }
    }

    static long[] counts(VectorSchemaRoot out) {
        try (out) {
            return column(out, "n").stream().mapToLong(n -> (Long) n).toArray();
        }
    }

    @Test
    void windowAggRollingAndParseGiveTheHandComputedResults() {
        try (SashClient client = SashClient.connect(socket, allocator)) {
            checkWindowAgg(client, allocator);
            checkRolling(client, allocator);
            checkParse(client);
            try (VarCharVector lines = new VarCharVector("line", allocator)) {
                lines.setSafe(0, COMMON_LINE.getBytes(StandardCharsets.UTF_8));
                lines.setValueCount(1);
                try (VectorSchemaRoot out = client.parse(lines, "{\"format\": \"common\"}")) {
                    assertEquals(List.of("GET"), column(out, "method"));
                }
                assertEquals(1, lines.getValueCount(), "the lines stay the caller's");
            }
        }
    }

    /** Many lines over several 16 MiB chunks: several answer batches, one root, no line lost or doubled. */
    @Test
    void parseBytesSpansChunks() {
        int n = 300_000;
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < n; i++) text.append(COMMON_LINE, 0, COMMON_LINE.length() - 4).append(i).append('\n');
        byte[] data = text.toString().getBytes(StandardCharsets.UTF_8);
        assertTrue(data.length > 16 << 20, "more than one chunk");
        try (SashClient client = SashClient.connect(socket, allocator);
                VectorSchemaRoot out = client.parseBytes(data, "{\"format\": \"common\"}")) {
            assertEquals(n, out.getRowCount());
            long sum = 0;
            for (Object bytes : column(out, "size")) sum += ((Number) bytes).longValue();
            assertEquals((long) n * (n - 1) / 2, sum);
            assertTrue(column(out, "_error").stream().allMatch(e -> e == null));
            try (VectorSchemaRoot empty = client.parseBytes(new byte[0], "{\"format\": \"common\"}")) {
                assertEquals(0, empty.getRowCount());
                assertEquals(names(out), names(empty));
            }
        }
    }

    @Test
    void errorsCarryTheServersKindAndTheClientGoesOn() {
        try (SashClient client = SashClient.connect(socket, allocator)) {
            try (VectorSchemaRoot in = events(allocator, TS, V)) {
                SashException e = assertThrows(SashException.class,
                        () -> client.windowAgg(in, "{\"time\": \"ts\", \"every\": 10, \"aggs\": [\"sum(latency) as s\"]}"));
                assertEquals("unknown_column", e.kind());
                assertTrue(e.getMessage().contains("latency"), e.getMessage());
                assertEquals("invalid_spec", assertThrows(SashException.class, () -> client.rolling(in, "{not json")).kind());
            }
            checkWindowAgg(client, allocator);
            // An error after some batches were sent comes in the tail: no partial result.
            StringBuilder text = new StringBuilder();
            while (text.length() < 20 << 20) text.append(COMMON_LINE).append('\n');
            text.append("not a log line\n");
            byte[] data = text.toString().getBytes(StandardCharsets.UTF_8);
            SashException e = assertThrows(SashException.class,
                    () -> client.parseBytes(data, "{\"format\": \"common\", \"on_error\": \"raise\"}"));
            assertEquals("parse", e.kind());
            assertTrue(e.getMessage().contains("does not parse"), e.getMessage());
            assertTrue(client.isOpen());
            checkParse(client);
            try (RemoteStream stream = client.openWindowStream(STREAM)) {
                assertEquals(0, push(stream, allocator, 1).length);
                try (VectorSchemaRoot in = events(allocator, new long[] {1}, null)) {
                    in.getVector(0).setNull(0);
                    assertEquals("null_time", assertThrows(SashException.class, () -> stream.push(in)).kind());
                }
                assertEquals(1, stream.stats().rowsIn(), "a failed push leaves the stream as it was");
            }
            checkRolling(client, allocator);
        }
    }

    @Test
    void streamsSnapshotAndRestoreToTheSameResults() {
        try (SashClient client = SashClient.connect(socket, allocator); SashClient other = SashClient.connect(socket, allocator)) {
            byte[] snapshot;
            List<long[]> original;
            try (RemoteStream stream = client.openWindowStream(STREAM)) {
                assertEquals(OptionalLong.empty(), stream.watermark());
                assertEquals(0, push(stream, allocator, 1, 5, 11).length);
                assertEquals(0, push(stream, allocator, 3).length); // on time: [0, 10) is open at watermark 9
                StreamStats stats = stream.stats();
                assertEquals(4, stats.rowsIn());
                assertEquals(2, stats.openWindows());
                assertEquals(OptionalLong.of(9), stream.watermark());
                snapshot = stream.snapshot();
                original = checkStream(stream, allocator);
            }
            List<long[]> expected = List.of(new long[] {3, 1}, new long[0], new long[] {1}, new long[0]);
            assertEquals(expected.size(), original.size());
            for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), original.get(i), "step " + i);
            for (SashClient c : List.of(client, other)) {
                try (RemoteStream restored = c.restoreWindowStream(snapshot)) {
                    assertArrayEquals(snapshot, restored.snapshot());
                    List<long[]> again = checkStream(restored, allocator);
                    for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), again.get(i), "step " + i);
                }
            }
            // A rolling stream: a row's result comes once the watermark (5) is past its time.
            try (RemoteStream rolling = client.openRollingStream("{\"time\": \"ts\", \"period\": 10, \"aggs\": [\"count() as n\"], \"lateness\": 0}")) {
                assertArrayEquals(new long[] {1}, push(rolling, allocator, 1, 5));
                byte[] state = rolling.snapshot();
                try (RemoteStream restored = other.restoreRollingStream(state)) {
                    assertArrayEquals(new long[] {2}, counts(restored.finish()));
                }
                assertArrayEquals(new long[] {2}, counts(rolling.finish()));
            }
            // A nanosecond-sized watermark (19 digits) comes back exactly.
            try (RemoteStream stream = client.openWindowStream(STREAM)) {
                assertEquals(0, counts(stream.advance(1_700_000_000_123_456_789L)).length);
                assertEquals(OptionalLong.of(1_700_000_000_123_456_789L), stream.watermark());
            }
        }
    }

    @Test
    void sixteenThreadsWithAClientEach() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                done.add(pool.submit(() -> {
                    try (SashClient client = SashClient.connect(socket, allocator)) {
                        for (int round = 0; round < 5; round++) {
                            checkWindowAgg(client, allocator);
                            checkParse(client);
                            try (RemoteStream stream = client.openWindowStream(STREAM)) {
                                assertEquals(0, push(stream, allocator, 1, 5, 11, 3).length);
                                List<long[]> results = checkStream(stream, allocator);
                                assertArrayEquals(new long[] {3, 1}, results.get(0));
                                assertArrayEquals(new long[] {1}, results.get(2));
                            }
                            checkRolling(client, allocator);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get(40, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
    }

    /** {@code n} bytes' worth of whole log lines. */
    static byte[] log(int n) {
        byte[] line = (COMMON_LINE + "\n").getBytes(StandardCharsets.UTF_8);
        byte[] log = new byte[line.length * (n / line.length)];
        System.arraycopy(line, 0, log, 0, line.length);
        for (int have = line.length; have < log.length; have *= 2) System.arraycopy(log, 0, log, have, Math.min(have, log.length - have));
        return log;
    }

    /** Starts a parse of {@code data} on another thread and waits until its answer is coming (result batches allocated). */
    Future<VectorSchemaRoot> parseUnderWay(ExecutorService pool, SashClient client, byte[] data) throws InterruptedException {
        Future<VectorSchemaRoot> call = pool.submit(() -> client.parseBytes(data, "{\"format\": \"common\"}"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        // The writer holds one 16 MiB value; more is the answer's rows.
        while (allocator.getAllocatedMemory() < 24 << 20 && !call.isDone() && System.nanoTime() < deadline) Thread.sleep(1);
        assertFalse(call.isDone(), "the parse is still running");
        return call;
    }

    /** A server killed in the middle of a long parse: the call fails at once as connection_lost, never with a shorter result. */
    @Test
    void aKilledServerIsALostConnection() throws Exception {
        byte[] data = log(200 << 20);
        Path doomed = dir.resolve("killed.sock");
        Process victim = serve(doomed);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (SashClient client = SashClient.connect(doomed, allocator)) {
            Future<VectorSchemaRoot> call = parseUnderWay(pool, client, data);
            long killed = System.nanoTime();
            victim.destroyForcibly(); // SIGKILL
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(15, TimeUnit.SECONDS));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            SashException lost = assertInstanceOf(SashException.class, e.getCause());
            assertEquals("connection_lost", lost.kind(), lost.getMessage());
            assertTrue(ms < 5000, "the loss was seen after " + ms + " ms");
            assertFalse(client.isOpen());
            assertThrows(IllegalStateException.class, () -> client.version());
        } finally {
            pool.shutdownNow();
            victim.destroyForcibly().waitFor();
        }
    }

    /**
     * An error the server sends while the client still writes (a batch over --max-message-bytes, which
     * also ends the connection): the server's kind, not a lost connection, and a closed client.
     */
    @Test
    void anErrorWhileWritingIsTheServersError() throws Exception {
        Path limited = dir.resolve("limited.sock");
        Process small = serve(limited, "--max-message-bytes", "1000");
        long[] ts = new long[1_000_000];
        try (SashClient client = SashClient.connect(limited, allocator); VectorSchemaRoot in = events(allocator, ts, null)) {
            SashException e = assertThrows(SashException.class, () -> client.windowAgg(in, WINDOW));
            assertEquals("resource_limit", e.kind(), e.getMessage());
            assertFalse(client.isOpen(), "the server closed the connection");
        } finally {
            small.destroy();
            assertTrue(small.waitFor(20, TimeUnit.SECONDS));
        }
    }

    /** Interrupting the calling thread cancels the call ("cancelled", as in process) and closes the client; the server goes on. */
    @Test
    void anInterruptCancels() throws Exception {
        byte[] data = log(100 << 20);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (SashClient client = SashClient.connect(socket, allocator)) {
            Future<VectorSchemaRoot> call = parseUnderWay(pool, client, data);
            pool.shutdownNow(); // interrupts the call's thread
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(15, TimeUnit.SECONDS));
            assertEquals("cancelled", assertInstanceOf(SashException.class, e.getCause()).kind());
            assertFalse(client.isOpen());
        }
        try (SashClient client = SashClient.connect(socket, allocator)) {
            checkWindowAgg(client, allocator);
        }
    }

    /** Runs the client in a class loader that defines dev.sash.* itself and records every class it is asked for. */
    public static final class Probe implements Function<Path, String> {
        @Override
        public String apply(Path path) {
            try (BufferAllocator allocator = new RootAllocator(); SashClient client = SashClient.connect(path, allocator)) {
                checkWindowAgg(client, allocator);
                checkParse(client);
                try (RemoteStream stream = client.openWindowStream(STREAM)) {
                    push(stream, allocator, 1, 5, 11, 3);
                    checkStream(stream, allocator);
                    byte[] snapshot = stream.snapshot();
                    client.restoreWindowStream(snapshot).close();
                }
                try (VectorSchemaRoot in = events(allocator, TS, V)) {
                    return assertThrows(SashException.class, () -> client.windowAgg(in, "{\"time\": \"nope\", \"every\": 10, \"aggs\": [\"count()\"]}")).kind();
                }
            }
        }
    }

    @Test
    void theClientNeverTouchesTheNativeLibrary() throws Exception {
        URL classes = SashClient.class.getProtectionDomain().getCodeSource().getLocation();
        URL testClasses = Probe.class.getProtectionDomain().getCodeSource().getLocation();
        Set<String> asked = ConcurrentHashMap.newKeySet();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes, testClasses}, getClass().getClassLoader()) {
            @Override
            protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
                asked.add(name);
                if (!name.startsWith("dev.sash.")) return super.loadClass(name, resolve);
                synchronized (getClassLoadingLock(name)) {
                    Class<?> c = findLoadedClass(name);
                    return c != null ? c : findClass(name);
                }
            }
        }) {
            @SuppressWarnings("unchecked")
            Function<Path, String> probe = (Function<Path, String>) loader.loadClass(Probe.class.getName()).getConstructor().newInstance();
            assertEquals("unknown_column", probe.apply(socket));
            assertTrue(asked.contains(SashClient.class.getName()) && asked.contains(SashException.class.getName()), asked.toString());
            assertFalse(asked.contains("dev.sash.NativeLib"), "the client asked for dev.sash.NativeLib");
            assertTrue(asked.stream().filter(n -> n.startsWith("dev.sash.") && !n.startsWith("dev.sash.client."))
                    .allMatch(n -> n.equals("dev.sash.SashException") || n.equals("dev.sash.StreamStats")), asked.toString());
        }
        // Every class the client's code refers to (its constant pools), executed or not.
        Set<String> referenced = new TreeSet<>();
        Pattern name = Pattern.compile("dev/sash/[A-Za-z0-9_$/]+");
        try (var files = Files.list(Path.of(classes.toURI()).resolve("dev/sash/client"))) {
            for (Path file : files.toList()) {
                Matcher m = name.matcher(new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1));
                while (m.find()) referenced.add(m.group());
            }
        }
        referenced.removeIf(n -> n.startsWith("dev/sash/client/"));
        assertEquals(Set.of("dev/sash/SashException", "dev/sash/StreamStats"), referenced);
    }
}

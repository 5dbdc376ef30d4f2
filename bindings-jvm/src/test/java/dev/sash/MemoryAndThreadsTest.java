package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** No leaks over many calls, and many threads at once. */
class MemoryAndThreadsTest {
    private BufferAllocator allocator;
    private static final WindowSpec SPEC = WindowSpec.tumbling("ts", "1m").by("k")
            .aggs("count() as n", "sum(v) as s", "quantile(v, 0.9) as p90", "first(v) as f").build();
    private static final List<String> LINES = List.of(
            "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a HTTP/1.0\" 200 2326 \"-\" \"curl\"",
            "garbage line",
            "10.0.0.1 - bob [10/Oct/2000:13:56:36 -0700] \"POST /b HTTP/1.1\" 500 - \"http://x\" \"Mozilla\"");

    @BeforeEach
    void open() {
        allocator = new RootAllocator();
    }

    @AfterEach
    void everyByteReturned() {
        assertEquals(0, allocator.getAllocatedMemory(), "the allocator must end at zero bytes");
        allocator.close();
    }

    /** 2,000 rows over 10 keys and ~30 minutes, from a seed. */
    static VectorSchemaRoot batch(BufferAllocator allocator, long seed) {
        java.util.Random random = new java.util.Random(seed);
        TimeStampMicroTZVector ts = new TimeStampMicroTZVector("ts", allocator, "UTC");
        VarCharVector k = new VarCharVector("k", allocator);
        Float8Vector v = new Float8Vector("v", allocator);
        int rows = 2_000;
        for (int i = 0; i < rows; i++) {
            ts.setSafe(i, random.nextInt(1_800) * 1_000_000L);
            k.setSafe(i, ("key" + random.nextInt(10)).getBytes(StandardCharsets.UTF_8));
            if (random.nextInt(10) == 0) v.setNull(i);
            else v.setSafe(i, random.nextGaussian());
        }
        VectorSchemaRoot root = VectorSchemaRoot.of(ts, k, v);
        root.setRowCount(rows);
        return root;
    }

    static VarCharVector lines(BufferAllocator allocator) {
        VarCharVector lines = new VarCharVector("line", allocator);
        for (int i = 0; i < 300; i++) lines.setSafe(i, LINES.get(i % 3).getBytes(StandardCharsets.UTF_8));
        lines.setValueCount(300);
        return lines;
    }

    static long rssBytes() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    /** One round: a window aggregation, a parse, and a failing call (error paths must not leak either). */
    void round(long seed) {
        try (VectorSchemaRoot in = batch(allocator, seed); VectorSchemaRoot out = Sash.windowAgg(in, SPEC, allocator)) {
            assertTrue(out.getRowCount() > 0);
        }
        try (VarCharVector in = lines(allocator); VectorSchemaRoot out = Sash.parse(in, ParseSpec.of("combined"), allocator)) {
            assertEquals(300, out.getRowCount());
        }
        try (VectorSchemaRoot in = batch(allocator, seed)) {
            assertThrows(SashSpecException.class, () -> Sash.windowAgg(in, WindowSpec.tumbling("ts", "1m").agg("sum(missing)").build(), allocator));
        }
    }

    /**
     * The RSS floor: the least of a few samples, each after a few more rounds
     * and a GC. Arrow Java's pooled allocator and malloc's arenas make single
     * readings swing by a hundred MiB either way; a leak raises the floor.
     */
    long rssFloor(int seed) throws Exception {
        long floor = Long.MAX_VALUE;
        for (int sample = 0; sample < 5; sample++) {
            for (int i = 0; i < 200; i++) round(seed + i);
            System.gc();
            floor = Math.min(floor, rssBytes());
        }
        return floor;
    }

    @Test
    void tenThousandCallsKeepTheRssFlat() throws Exception {
        for (int i = 0; i < 1_000; i++) round(i); // warm up: JIT, heap, allocator pools
        long before = rssFloor(0);
        for (int i = 0; i < 10_000; i++) round(i);
        long after = rssFloor(10_000);
        System.out.printf("RSS floor before %d MiB, after 10,000 more rounds %d MiB%n", before >> 20, after >> 20);
        // Each round moves ~150 KB through native code: a leak of any of it would add over a GB.
        assertTrue(after < before * 1.05 + (16 << 20), "RSS grew from " + (before >> 20) + " MiB to " + (after >> 20) + " MiB over 10,000 rounds");
    }

    @Test
    void eightThreadsGetWhatOneThreadGets() throws Exception {
        List<String> expected = new ArrayList<>();
        for (int seed = 0; seed < 8; seed++) {
            try (VectorSchemaRoot in = batch(allocator, seed); VectorSchemaRoot out = Sash.windowAgg(in, SPEC, allocator)) {
                expected.add(out.contentToTSVString());
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                final int seed = t;
                results.add(pool.submit(() -> {
                    for (int i = 0; i < 50; i++) {
                        try (VectorSchemaRoot in = batch(allocator, seed); VectorSchemaRoot out = Sash.windowAgg(in, SPEC, allocator)) {
                            if (!out.contentToTSVString().equals(expected.get(seed))) return false;
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> r : results) assertTrue(r.get(), "a thread got a different result");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aPanicInTheKernelBecomesAnExceptionAndTheJvmGoesOn() {
        SashException e = assertThrows(SashException.class, () -> NativeLib.panicForTesting("boom in the kernel"));
        assertEquals("internal", e.kind());
        assertTrue(e.getMessage().contains("boom in the kernel"), e.getMessage());
        // The library still works afterwards.
        try (VectorSchemaRoot in = batch(allocator, 3); VectorSchemaRoot out = Sash.windowAgg(in, SPEC, allocator)) {
            assertTrue(out.getRowCount() > 0);
        }
    }

    @Test
    void aBadStructNeverCrashesTheJvm() {
        // A released (zeroed) input struct and a zero address: exceptions, not crashes.
        try (org.apache.arrow.c.ArrowArray array = org.apache.arrow.c.ArrowArray.allocateNew(allocator);
             org.apache.arrow.c.ArrowSchema schema = org.apache.arrow.c.ArrowSchema.allocateNew(allocator);
             org.apache.arrow.c.ArrowArray out = org.apache.arrow.c.ArrowArray.allocateNew(allocator);
             org.apache.arrow.c.ArrowSchema outSchema = org.apache.arrow.c.ArrowSchema.allocateNew(allocator)) {
            SashException released = assertThrows(SashException.class, () -> NativeLib.windowAgg(array.memoryAddress(), schema.memoryAddress(),
                    SPEC.toJson(), false, out.memoryAddress(), outSchema.memoryAddress()));
            assertEquals("released", released.kind());
            SashSpecException nul = assertThrows(SashSpecException.class,
                    () -> NativeLib.windowAgg(0, 0, SPEC.toJson(), false, out.memoryAddress(), outSchema.memoryAddress()));
            assertEquals("null_argument", nul.kind());
            assertThrows(SashSpecException.class, () -> NativeLib.windowAgg(array.memoryAddress(), schema.memoryAddress(), null, false,
                    out.memoryAddress(), outSchema.memoryAddress()));
        }
        SashException e = assertThrows(SashException.class, () -> Sash.readLog(Path.of("/nonexistent/file.log"), ParseSpec.of("combined"), allocator));
        assertEquals("invalid_input", e.kind());
        assertTrue(e.getMessage().contains("/nonexistent/file.log"), e.getMessage());
    }
}

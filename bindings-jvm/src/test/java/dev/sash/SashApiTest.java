package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.TimeStampMilliVector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SashApiTest {
    private BufferAllocator allocator;

    @BeforeEach
    void open() {
        allocator = new RootAllocator();
    }

    @AfterEach
    void everyByteReturned() {
        assertEquals(0, allocator.getAllocatedMemory(), "the allocator must end at zero bytes");
        allocator.close();
    }

    /** ts (ms), host, latency: 6 rows over two minutes and two hosts. */
    static VectorSchemaRoot events(BufferAllocator allocator) {
        TimeStampMilliVector ts = new TimeStampMilliVector("ts", allocator);
        VarCharVector host = new VarCharVector("host", allocator);
        Float8Vector latency = new Float8Vector("latency", allocator);
        long[] times = {0, 10_000, 59_999, 60_000, 61_000, 125_000};
        String[] hosts = {"a", "b", "a", "a", "b", "a"};
        double[] lat = {1, 2, 3, 4, 5, 6};
        for (int i = 0; i < times.length; i++) {
            ts.setSafe(i, times[i]);
            host.setSafe(i, hosts[i].getBytes(StandardCharsets.UTF_8));
            latency.setSafe(i, lat[i]);
        }
        VectorSchemaRoot root = VectorSchemaRoot.of(ts, host, latency);
        root.setRowCount(times.length);
        return root;
    }

    @Test
    void versionMatchesTheCrate() {
        assertTrue(Sash.version().matches("\\d+\\.\\d+\\.\\d+.*"), Sash.version());
    }

    @Test
    void tumblingWindowsByKey() {
        WindowSpec spec = WindowSpec.tumbling("ts", "1m").by("host").agg("count() as n").agg("total", "sum(latency)").build();
        try (VectorSchemaRoot input = events(allocator); VectorSchemaRoot out = Sash.windowAgg(input, spec, allocator)) {
            assertEquals(List.of("host", "window_start", "window_end", "n", "total"),
                    out.getSchema().getFields().stream().map(f -> f.getName()).toList());
            assertEquals(5, out.getRowCount()); // (0, a) (0, b) (60s, a) (60s, b) (120s, a)
            // ordered by window_start, then key
            assertEquals("a", out.getVector("host").getObject(0).toString());
            assertEquals(2L, ((BigIntVector) out.getVector("n")).get(0));
            assertEquals(4.0, ((Float8Vector) out.getVector("total")).get(0));
            assertEquals("b", out.getVector("host").getObject(1).toString());
            assertEquals(60_000L, ((TimeStampMilliVector) out.getVector("window_start")).get(2));
            assertEquals(120_000L, ((TimeStampMilliVector) out.getVector("window_end")).get(2));
            assertEquals(6.0, ((Float8Vector) out.getVector("total")).get(4));
        }
    }

    @Test
    void javaTimeDurationsAreSpecDurations() {
        WindowSpec strings = WindowSpec.hopping("ts", "1m", "2m").offset("-30s").by("host").agg("count() as n").build();
        WindowSpec durations = WindowSpec.hopping("ts", java.time.Duration.ofMinutes(1), java.time.Duration.ofMinutes(2))
                .offset(java.time.Duration.ofSeconds(-30)).by("host").agg("count() as n").build();
        assertTrue(durations.toJson().contains("\"offset\":\"-30s0ns\""), durations.toJson());
        assertEquals("-2s500000000ns", Json.duration(java.time.Duration.ofMillis(-2500)));
        try (VectorSchemaRoot input = events(allocator);
                VectorSchemaRoot a = Sash.windowAgg(input, strings, allocator);
                VectorSchemaRoot b = Sash.windowAgg(input, durations, allocator)) {
            assertEquals(a.contentToTSVString(), b.contentToTSVString());
            assertTrue(a.getRowCount() > 0);
        }
        RollingSpec rolling = RollingSpec.builder("ts", java.time.Duration.ofMinutes(1)).by("host").agg("mean(latency) as avg").build();
        assertEquals(RollingSpec.builder("ts", "60s0ns").by("host").agg("mean(latency) as avg").build().toJson(), rolling.toJson());
        // Beyond 64-bit nanoseconds: the kernel's error, not an ArithmeticException.
        try (VectorSchemaRoot input = events(allocator)) {
            SashSpecException e = assertThrows(SashSpecException.class,
                    () -> Sash.windowAgg(input, WindowSpec.tumbling("ts", java.time.Duration.ofDays(365L * 1000)).agg("count()").build(), allocator));
            assertTrue(e.getMessage().contains("too large"), e.getMessage());
        }
    }

    @Test
    void rollingHandsTheInputBuffersThroughWithoutCopying() {
        RollingSpec spec = RollingSpec.builder("ts", "1m").by("host").agg("mean(latency) as avg").build();
        try (VectorSchemaRoot input = events(allocator); VectorSchemaRoot out = Sash.rolling(input, spec, allocator)) {
            assertEquals(6, out.getRowCount());
            // The input columns come back as the very same memory: not copied on the way in, nor on the way out.
            assertEquals(input.getVector("latency").getDataBuffer().memoryAddress(), out.getVector("latency").getDataBuffer().memoryAddress());
            assertEquals(input.getVector("host").getDataBuffer().memoryAddress(), out.getVector("host").getDataBuffer().memoryAddress());
            Float8Vector avg = (Float8Vector) out.getVector("avg");
            assertEquals(1.0, avg.get(0));
            assertEquals(2.0, avg.get(2)); // a at 59.999s: (1 + 3) / 2
            assertEquals(3.5, avg.get(3)); // a at 60s: 0 is out of (0, 60s], so (3 + 4) / 2
        }
    }

    @Test
    void streamsInAndOut() throws Exception {
        WindowSpec spec = WindowSpec.session("ts", "30s").by("host").agg("count() as n").build();
        VectorSchemaRoot input = events(allocator);
        ArrowReader reader = new RootsReader(allocator, List.of(input));
        try (ArrowReader out = Sash.windowAgg(reader, spec, allocator)) {
            long rows = 0;
            while (out.loadNextBatch()) rows += out.getVectorSchemaRoot().getRowCount();
            assertEquals(5, rows);
        }
    }

    @Test
    void parseKeepsEveryLineAndMarksBadOnes() {
        try (VarCharVector lines = new VarCharVector("line", allocator)) {
            String good = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";
            lines.setSafe(0, good.getBytes(StandardCharsets.UTF_8));
            lines.setSafe(1, "not a log line".getBytes(StandardCharsets.UTF_8));
            lines.setValueCount(2);
            try (VectorSchemaRoot out = Sash.parse(lines, ParseSpec.of("common"), allocator)) {
                assertEquals(2, out.getRowCount());
                assertEquals("frank", out.getVector("user").getObject(0).toString());
                // Arrow Java reads UInt16 as a char
                assertEquals(200, (int) ((UInt2Vector) out.getVector("status")).get(0));
                assertNull(out.getVector("_error").getObject(0));
                String error = out.getVector("_error").getObject(1).toString();
                assertTrue(error.contains("byte"), error);
            }
        }
    }

    @Test
    void readLogStreamsARealLogInSmallChunksWithoutLosingALine() throws Exception {
        java.nio.file.Path log = java.nio.file.Path.of(System.getProperty("sash.repo.root", "..")).resolve("tests/data/logs/apache_combined_10k.log");
        long lines = java.nio.file.Files.lines(log).count();
        for (long chunk : new long[] {0, 4096, 100_000}) {
            long rows = 0, failed = 0, batches = 0;
            String failure = null;
            try (ArrowReader reader = Sash.readLog(log, ParseSpec.of("combined"), chunk, allocator)) {
                while (reader.loadNextBatch()) {
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    batches++;
                    for (int i = 0; i < root.getRowCount(); i++) {
                        if (!root.getVector("_error").isNull(i)) {
                            failed++;
                            failure = "line " + (rows + i + 1) + ": " + root.getVector("_error").getObject(i);
                        }
                    }
                    rows += root.getRowCount();
                }
            }
            assertEquals(lines, rows, "chunk " + chunk);
            // The one truly truncated line of the file (its user agent has no closing quote).
            assertEquals(1, failed, "chunk " + chunk + ": " + failure);
            assertTrue(failure.startsWith("line 8899:"), failure);
            if (chunk == 4096) assertTrue(batches > 100, "small chunks give many batches: " + batches);
        }
    }

    @Test
    void parsingANonStringVectorIsAClearError() {
        try (org.apache.arrow.vector.IntVector numbers = new org.apache.arrow.vector.IntVector("n", allocator)) {
            numbers.setSafe(0, 42);
            numbers.setValueCount(1);
            SashSpecException e = assertThrows(SashSpecException.class, () -> Sash.parse(numbers, ParseSpec.of("combined"), allocator));
            assertEquals("wrong_type", e.kind());
            assertTrue(e.getMessage().contains("Int32"), e.getMessage());
        }
    }

    @Test
    void badSpecsThrowIllegalArgumentWithTheKind() {
        try (VectorSchemaRoot input = events(allocator)) {
            SashSpecException e = assertThrows(SashSpecException.class,
                    () -> Sash.windowAgg(input, WindowSpec.tumbling("ts", "1m").agg("mean(nope)").build(), allocator));
            assertEquals("unknown_column", e.kind());
            assertTrue(e.getMessage().contains("nope"), e.getMessage());
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                    () -> Sash.windowAgg(input, WindowSpec.fromJson("{not json"), allocator));
            assertEquals("invalid_spec", ((SashSpecException) bad).kind());
            SashSpecException duration = assertThrows(SashSpecException.class,
                    () -> Sash.windowAgg(input, WindowSpec.tumbling("ts", "1 fortnight").agg("count()").build(), allocator));
            assertEquals("invalid_duration", duration.kind());
        }
    }
}

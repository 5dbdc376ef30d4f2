package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The thread count: set and read process-wide, refused out of range, and
 * never a part of a result (the same rows with 1 and 4 threads, and for
 * eight Java threads calling at once).
 */
class ThreadsTest {
    private BufferAllocator allocator;
    private static final WindowSpec SPEC = WindowSpec.hopping("ts", "1m", "3m").by("k")
            .aggs("count() as n", "sum(v) as s", "mean(v) as m", "last(v) as l").build();

    @BeforeEach
    void open() {
        allocator = new RootAllocator();
    }

    @AfterEach
    void close() {
        Sash.setThreads(0);
        assertEquals(0, allocator.getAllocatedMemory(), "the allocator must end at zero bytes");
        allocator.close();
    }

    /** 400,000 sorted rows over 100 keys: large enough to be cut into parts. */
    private VectorSchemaRoot bigBatch() {
        java.util.Random random = new java.util.Random(11);
        TimeStampMicroVector ts = new TimeStampMicroVector("ts", allocator);
        IntVector k = new IntVector("k", allocator);
        Float8Vector v = new Float8Vector("v", allocator);
        int rows = 400_000;
        long t = 0;
        for (int i = 0; i < rows; i++) {
            t += random.nextInt(20_000);
            ts.setSafe(i, t);
            k.setSafe(i, random.nextInt(100));
            v.setSafe(i, random.nextGaussian() * 1e6);
        }
        VectorSchemaRoot root = VectorSchemaRoot.of(ts, k, v);
        root.setRowCount(rows);
        return root;
    }

    private String windows(VectorSchemaRoot input) {
        try (VectorSchemaRoot out = Sash.windowAgg(input, SPEC, allocator)) {
            return out.contentToTSVString();
        }
    }

    @Test
    void setReadAndRefused() {
        Sash.setThreads(3);
        assertEquals(3, Sash.threads());
        for (int bad : new int[] {-1, 1025}) {
            SashException e = assertThrows(SashException.class, () -> Sash.setThreads(bad));
            assertEquals("invalid_input", e.kind());
            assertTrue(e.getMessage().contains("threads"), e.getMessage());
            assertEquals(3, Sash.threads(), "a refused count leaves the count as it was");
        }
        Sash.setThreads(0);
        assertTrue(Sash.threads() >= 1);
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() throws Exception {
        try (VectorSchemaRoot input = bigBatch()) {
            Sash.setThreads(1);
            String alone = windows(input);
            Sash.setThreads(4); // windows split from four threads on (core window::split::MIN_THREADS)
            assertEquals(alone, windows(input));
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<String>> results = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    results.add(pool.submit(() -> windows(input)));
                }
                for (Future<String> result : results) {
                    assertEquals(alone, result.get());
                }
            } finally {
                pool.shutdown();
            }
        }
    }
}

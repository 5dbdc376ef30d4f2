package dev.sash;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;

/** dev.sash.WindowStream: windows close as the watermark passes, snapshots restore, late rows come back, nothing leaks. */
class WindowStreamTest {
    static final String SPEC = "{\"time\": \"ts\", \"every\": 10, \"aggs\": [\"count() as n\"], \"lateness\": 2}";

    static VectorSchemaRoot times(BufferAllocator allocator, long... ts) {
        BigIntVector v = new BigIntVector("ts", allocator);
        v.allocateNew(ts.length);
        for (int i = 0; i < ts.length; i++) v.set(i, ts[i]);
        v.setValueCount(ts.length);
        return new VectorSchemaRoot(List.of(v));
    }

    static long[] counts(VectorSchemaRoot out) {
        try (out) {
            BigIntVector n = (BigIntVector) out.getVector("n");
            long[] values = new long[out.getRowCount()];
            for (int i = 0; i < values.length; i++) values[i] = n.get(i);
            return values;
        }
    }

    static long[] push(NativeStream stream, BufferAllocator allocator, long... ts) {
        try (VectorSchemaRoot in = times(allocator, ts)) {
            return counts(stream.push(in, allocator));
        }
    }

    /**
     * The golden snapshots Python wrote (tests/data/streams), of every format version, restore
     * here; each restored stream's snapshot is the latest format's golden one, byte for byte.
     */
    @Test
    void thePythonGoldenSnapshotsRestore() throws java.io.IOException {
        java.nio.file.Path dir = java.nio.file.Path.of(System.getProperty("sash.repo.root", "..")).resolve("tests/data/streams");
        byte[] latest = java.nio.file.Files.readAllBytes(dir.resolve("window_stream_v2.snap"));
        for (String name : new String[] {"window_stream_v1.snap", "window_stream_v2.snap"}) {
            byte[] golden = java.nio.file.Files.readAllBytes(dir.resolve(name));
            try (BufferAllocator allocator = new RootAllocator(); WindowStream stream = WindowStream.restore(golden)) {
                assertArrayEquals(latest, stream.snapshot(), name);
                assertArrayEquals(new long[] {2, 1, 1}, counts(stream.finish(allocator)), name);
            }
        }
    }

    @Test
    void watermarkAndStats() {
        try (BufferAllocator allocator = new RootAllocator(); WindowStream stream = new WindowStream(SPEC)) {
            assertEquals(java.util.OptionalLong.empty(), stream.watermark());
            push(stream, allocator, 1, 5, 11);
            push(stream, allocator, 3); // on time: [0, 10) is open at watermark 9
            assertEquals(java.util.OptionalLong.of(9), stream.watermark());
            StreamStats stats = stream.stats();
            assertEquals(4, stats.rowsIn());
            assertEquals(0, stats.rowsLate());
            assertEquals(2, stats.openWindows());
            org.junit.jupiter.api.Assertions.assertTrue(stats.stateBytes() > 0, stats.toString());
            stream.close();
            assertThrows(IllegalStateException.class, stream::stats);
        }
    }

    @Test
    void windowsCloseAsTheWatermarkPassesAndASnapshotGoesOn() {
        try (BufferAllocator allocator = new RootAllocator()) {
            byte[] snapshot;
            try (WindowStream stream = new WindowStream(SPEC)) {
                assertArrayEquals(new long[0], push(stream, allocator, 1, 5, 11));
                snapshot = stream.snapshot();
            }
            try (WindowStream stream = WindowStream.restore(snapshot)) {
                assertArrayEquals(snapshot, stream.snapshot());
                assertArrayEquals(new long[] {2}, push(stream, allocator, 12));
                push(stream, allocator, 3, 15); // 3 is late
                try (VectorSchemaRoot late = stream.takeLate(allocator)) {
                    assertEquals(1, late.getRowCount());
                    assertEquals(3L, ((BigIntVector) late.getVector("ts")).get(0));
                }
                assertArrayEquals(new long[0], counts(stream.advance(0, allocator)));
                assertArrayEquals(new long[] {3}, counts(stream.finish(allocator)));
                SashException after = assertThrows(SashException.class, () -> push(stream, allocator, 30));
                assertEquals("invalid_input", after.kind());
            }
            assertThrows(SashException.class, () -> WindowStream.restore(new byte[] {1, 2, 3}));
            assertThrows(SashSpecException.class, () -> new WindowStream("{\"time\": \"ts\", \"every\": 5, \"aggs\": [\"count()\"], \"lateness\": -1}"));
            WindowStream closed = new WindowStream(SPEC);
            closed.close();
            closed.close();
            assertThrows(IllegalStateException.class, () -> closed.finish(allocator));
        }
    }
}

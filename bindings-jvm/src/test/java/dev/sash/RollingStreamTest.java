package dev.sash;

import static dev.sash.WindowStreamTest.counts;
import static dev.sash.WindowStreamTest.push;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;

/** dev.sash.RollingStream: each row's result once the watermark passes it, snapshots restore, late rows come back, nothing leaks. */
class RollingStreamTest {
    static final String SPEC = "{\"time\": \"ts\", \"period\": 5, \"aggs\": [\"count() as n\"], \"lateness\": 1}";

    @Test
    void rowsAreFinalOnceTheWatermarkPassesThemAndASnapshotGoesOn() {
        try (BufferAllocator allocator = new RootAllocator()) {
            byte[] snapshot;
            try (RollingStream stream = new RollingStream(SPEC)) {
                assertArrayEquals(new long[] {1}, push(stream, allocator, 1, 3)); // watermark 2: the row at 1
                snapshot = stream.snapshot();
            }
            try (RollingStream stream = RollingStream.restore(snapshot)) {
                assertArrayEquals(new long[] {2, 3}, push(stream, allocator, 2, 6)); // watermark 5: the rows at 2 and 3
                assertArrayEquals(new long[0], push(stream, allocator, 0)); // late
                try (VectorSchemaRoot late = stream.takeLate(allocator)) {
                    assertEquals(1, late.getRowCount());
                }
                assertArrayEquals(new long[0], counts(stream.advance(0, allocator)));
                assertArrayEquals(new long[] {3}, counts(stream.finish(allocator))); // 6 sees 2, 3 and 6
            }
            try (WindowStream window = new WindowStream(WindowStreamTest.SPEC)) {
                byte[] windowSnapshot = window.snapshot();
                assertThrows(SashException.class, () -> RollingStream.restore(windowSnapshot));
            }
            assertThrows(SashSpecException.class, () -> new RollingStream("{\"time\": \"ts\", \"aggs\": [\"count()\"]}"));
            RollingStream closed = new RollingStream(SPEC);
            closed.close();
            closed.close();
            assertThrows(IllegalStateException.class, () -> closed.finish(allocator));
        }
    }
}

package dev.sash;

import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * Tumbling or hopping windows over record batches pushed one after another,
 * for input that never stops arriving: each window is returned once the
 * watermark (the largest time pushed minus the spec's {@code "lateness"})
 * passes its end (docs/semantics.md, "Streaming"). A failed call leaves the
 * stream as it was. Calls are serialized; {@link #close()} frees the native
 * state.
 *
 * <pre>{@code
 * try (WindowStream stream = new WindowStream("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count() as n\"], \"lateness\": \"5s\"}")) {
 *     try (VectorSchemaRoot closed = stream.push(batch, allocator)) { ... }
 * }
 * }</pre>
 */
public final class WindowStream implements AutoCloseable {
    private long handle;

    /** A stream for a JSON window spec as {@link Sash#windowAgg} takes it, with an optional {@code "lateness"}. */
    public WindowStream(String specJson) {
        this(NativeLib.windowStreamNew(Objects.requireNonNull(specJson, "specJson")));
    }

    private WindowStream(long handle) {
        this.handle = handle;
    }

    /** The stream a {@link #snapshot()} was taken of, in this process or another, in any language. */
    public static WindowStream restore(byte[] snapshot) {
        return new WindowStream(NativeLib.windowStreamRestore(Objects.requireNonNull(snapshot, "snapshot")));
    }

    private long live() {
        if (handle == 0) throw new IllegalStateException("the WindowStream is closed");
        return handle;
    }

    /** Takes the rows of {@code batch} (which stays the caller's) and returns the windows this push closed, possibly none. */
    public synchronized VectorSchemaRoot push(VectorSchemaRoot batch, BufferAllocator allocator) {
        return Kernel.streamPush(live(), batch, false, allocator);
    }

    /** Moves the watermark to {@code watermark} (ticks of the time column) if that is later; returns the windows that closed. */
    public synchronized VectorSchemaRoot advance(long watermark, BufferAllocator allocator) {
        long h = live();
        return Kernel.output(allocator, (a, s) -> NativeLib.windowStreamAdvance(h, watermark, false, a, s));
    }

    /** Ends the input: returns every open window; later pushes fail. */
    public synchronized VectorSchemaRoot finish(BufferAllocator allocator) {
        long h = live();
        return Kernel.output(allocator, (a, s) -> NativeLib.windowStreamFinish(h, false, a, s));
    }

    /** The rows that came too late to count in any window, in arrival order; taking them clears them. */
    public synchronized VectorSchemaRoot takeLate(BufferAllocator allocator) {
        long h = live();
        return Kernel.output(allocator, (a, s) -> NativeLib.windowStreamTakeLate(h, false, a, s));
    }

    /** The whole state as bytes, for {@link #restore(byte[])}. */
    public synchronized byte[] snapshot() {
        return NativeLib.windowStreamSnapshot(live());
    }

    /** Frees the native state; closing twice is harmless. */
    @Override
    public synchronized void close() {
        NativeLib.windowStreamFree(handle);
        handle = 0;
    }
}

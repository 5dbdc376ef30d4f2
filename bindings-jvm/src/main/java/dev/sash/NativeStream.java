package dev.sash;

import java.util.OptionalLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * What {@link WindowStream} and {@link RollingStream} share: a native handle,
 * calls serialized on it, and each kind's native entry points.
 */
abstract class NativeStream implements AutoCloseable {
    private long handle;

    NativeStream(long handle) {
        this.handle = handle;
    }

    /** The kind's name, for messages. */
    abstract String kind();

    abstract void nativePush(long handle, long array, long schema, long outArray, long outSchema);

    abstract void nativeAdvance(long handle, long watermark, long outArray, long outSchema);

    abstract void nativeFinish(long handle, long outArray, long outSchema);

    abstract void nativeTakeLate(long handle, long outArray, long outSchema);

    abstract byte[] nativeSnapshot(long handle);

    abstract long[] nativeInfo(long handle);

    abstract void nativeFree(long handle);

    private long live() {
        if (handle == 0) throw new IllegalStateException("the " + kind() + " is closed");
        return handle;
    }

    /** Takes the rows of {@code batch} (which stays the caller's) and returns the results this push made final, possibly none. */
    public synchronized VectorSchemaRoot push(VectorSchemaRoot batch, BufferAllocator allocator) {
        long h = live();
        return Kernel.streamPush((a, s, oa, os) -> nativePush(h, a, s, oa, os), batch, allocator);
    }

    /** Moves the watermark to {@code watermark} (ticks of the time column) if that is later; returns the results that became final. */
    public synchronized VectorSchemaRoot advance(long watermark, BufferAllocator allocator) {
        long h = live();
        return Kernel.output(allocator, (a, s) -> nativeAdvance(h, watermark, a, s));
    }

    /** Ends the input: returns every open result; later pushes fail. */
    public synchronized VectorSchemaRoot finish(BufferAllocator allocator) {
        long h = live();
        return Kernel.output(allocator, (a, s) -> nativeFinish(h, a, s));
    }

    /** The rows that came too late to count, in arrival order; taking them clears them. */
    public synchronized VectorSchemaRoot takeLate(BufferAllocator allocator) {
        long h = live();
        return Kernel.output(allocator, (a, s) -> nativeTakeLate(h, a, s));
    }

    /** The whole state as bytes, for the kind's {@code restore}. */
    public synchronized byte[] snapshot() {
        return nativeSnapshot(live());
    }

    /**
     * The watermark in ticks of the time column: empty until a push with a
     * time or an {@link #advance} sets it (it starts below every time).
     */
    public synchronized OptionalLong watermark() {
        long[] info = nativeInfo(live());
        return info[0] != 0 ? OptionalLong.of(info[1]) : OptionalLong.empty();
    }

    /** What the stream has seen: rows in, rows late, null times dropped, open states and state bytes. */
    public synchronized StreamStats stats() {
        long[] info = nativeInfo(live());
        return new StreamStats(info[2], info[3], info[4], info[5], info[6]);
    }

    /** Frees the native state; closing twice is harmless. */
    @Override
    public synchronized void close() {
        if (handle != 0) nativeFree(handle);
        handle = 0;
    }
}

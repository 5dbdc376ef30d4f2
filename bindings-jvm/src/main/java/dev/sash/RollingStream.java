package dev.sash;

import java.util.Objects;

/**
 * Rolling aggregation over record batches pushed one after another: each
 * row's result is returned once the watermark (the largest time pushed minus
 * the spec's {@code "lateness"}) has passed its time, rows by time (ties in
 * arrival order); docs/semantics.md, "Streaming". Methods as
 * {@link WindowStream}'s; a failed call leaves the stream as it was.
 */
public final class RollingStream extends NativeStream {
    /** A stream for a JSON rolling spec as {@link Sash#rolling} takes it, with optional {@code "lateness"} and {@code "max_state_bytes"}. */
    public RollingStream(String specJson) {
        super(NativeLib.rollingStreamNew(Objects.requireNonNull(specJson, "specJson")));
    }

    private RollingStream(long handle) {
        super(handle);
    }

    /** The stream a {@link #snapshot()} was taken of, in this process or another, in any language. */
    public static RollingStream restore(byte[] snapshot) {
        return new RollingStream(NativeLib.rollingStreamRestore(Objects.requireNonNull(snapshot, "snapshot")));
    }

    @Override
    String kind() {
        return "RollingStream";
    }

    @Override
    void nativePush(long h, long array, long schema, long outArray, long outSchema) {
        NativeLib.rollingStreamPush(h, array, schema, false, outArray, outSchema);
    }

    @Override
    void nativeAdvance(long h, long watermark, long outArray, long outSchema) {
        NativeLib.rollingStreamAdvance(h, watermark, false, outArray, outSchema);
    }

    @Override
    void nativeFinish(long h, long outArray, long outSchema) {
        NativeLib.rollingStreamFinish(h, false, outArray, outSchema);
    }

    @Override
    void nativeTakeLate(long h, long outArray, long outSchema) {
        NativeLib.rollingStreamTakeLate(h, false, outArray, outSchema);
    }

    @Override
    byte[] nativeSnapshot(long h) {
        return NativeLib.rollingStreamSnapshot(h);
    }

    @Override
    long[] nativeInfo(long h) {
        return NativeLib.rollingStreamInfo(h);
    }

    @Override
    void nativeFree(long h) {
        NativeLib.rollingStreamFree(h);
    }
}

package dev.sash;

import java.util.Objects;

/**
 * Tumbling, hopping or session windows over record batches pushed one after another,
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
public final class WindowStream extends NativeStream {
    /** A stream for a JSON window spec as {@link Sash#windowAgg} takes it, with optional {@code "lateness"} and {@code "max_state_bytes"}. */
    public WindowStream(String specJson) {
        super(NativeLib.windowStreamNew(Objects.requireNonNull(specJson, "specJson")));
    }

    private WindowStream(long handle) {
        super(handle);
    }

    /** The stream a {@link #snapshot()} was taken of, in this process or another, in any language. */
    public static WindowStream restore(byte[] snapshot) {
        return new WindowStream(NativeLib.windowStreamRestore(Objects.requireNonNull(snapshot, "snapshot")));
    }

    @Override
    String kind() {
        return "WindowStream";
    }

    @Override
    void nativePush(long h, long array, long schema, long outArray, long outSchema) {
        NativeLib.windowStreamPush(h, array, schema, false, outArray, outSchema);
    }

    @Override
    void nativeAdvance(long h, long watermark, long outArray, long outSchema) {
        NativeLib.windowStreamAdvance(h, watermark, false, outArray, outSchema);
    }

    @Override
    void nativeFinish(long h, long outArray, long outSchema) {
        NativeLib.windowStreamFinish(h, false, outArray, outSchema);
    }

    @Override
    void nativeTakeLate(long h, long outArray, long outSchema) {
        NativeLib.windowStreamTakeLate(h, false, outArray, outSchema);
    }

    @Override
    byte[] nativeSnapshot(long h) {
        return NativeLib.windowStreamSnapshot(h);
    }

    @Override
    long[] nativeInfo(long h) {
        return NativeLib.windowStreamInfo(h);
    }

    @Override
    void nativeFree(long h) {
        NativeLib.windowStreamFree(h);
    }
}

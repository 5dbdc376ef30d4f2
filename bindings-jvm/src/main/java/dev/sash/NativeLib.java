package dev.sash;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The JNI entry points of libsash_jvm, and the loading of that library.
 *
 * <p>Every method takes the addresses of Arrow C Data Interface structs that
 * the caller allocated ({@code ArrowArray.memoryAddress()} and friends). Inputs
 * are always taken by sash: after the call, successful or not, the input
 * structs are released and the caller only frees their memory. Outputs are
 * written only on success. Errors throw {@link SashSpecException} (an
 * {@link IllegalArgumentException}) or {@link SashException}
 * ({@link SashCancelledException} when the calling thread is interrupted
 * during the call). Most users want {@link Sash}, which does all of this
 * with Arrow Java objects.
 *
 * <p>The library ships inside the jar under {@code native/<os>-<arch>/}. It is
 * loaded once per class loader: each class loader that loads this class gets
 * its own extracted copy, because a JVM refuses to bind one native library
 * file to two class loaders (the failure Spark executors hit when a jar is
 * loaded by several loaders). Setting the system property
 * {@code sash.native.path} to a library file loads that file instead.
 */
public final class NativeLib {
    private NativeLib() {}

    private static final String LIBRARY = "libsash_jvm.so";

    static {
        load();
    }

    /** Forces the library to load (a no-op once loaded); throws if it cannot. */
    public static void ensureLoaded() {}

    /** The platform folder of this JVM, e.g. {@code linux-x86_64}. */
    static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String osName = os.contains("linux") ? "linux" : os.contains("mac") ? "darwin" : os.replace(' ', '_');
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osName + "-" + archName;
    }

    private static void load() {
        String explicit = System.getProperty("sash.native.path");
        if (explicit != null && !explicit.isEmpty()) {
            System.load(Path.of(explicit).toAbsolutePath().toString());
            return;
        }
        String resource = "/native/" + platform() + "/" + LIBRARY;
        try (InputStream in = NativeLib.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("sash: no native library for " + platform() + " in the jar (looked for " + resource + ")");
            }
            // A fresh file per load: deleted on exit, never shared between class loaders.
            Path file = Files.createTempFile("libsash_jvm-", ".so");
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            System.load(file.toAbsolutePath().toString());
        } catch (IOException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError("sash: cannot extract the native library: " + e);
            error.initCause(e);
            throw error;
        }
    }

    /** The native library's version, e.g. "0.1.0". */
    public static native String version();

    /** Sets the thread count of the native kernels, process-wide; 0 is the default. */
    public static native void setThreads(int threads);

    /** The thread count of the native kernels. */
    public static native int threads();

    /** Windowed aggregation of one record batch (a struct array). */
    public static native void windowAgg(long array, long schema, String specJson, boolean sparkTypes, long outArray, long outSchema);

    /** Rolling aggregation of one record batch; one output row per input row. */
    public static native void rolling(long array, long schema, String specJson, boolean sparkTypes, long outArray, long outSchema);

    /** Parses one string array (Utf8, LargeUtf8, Utf8View, Binary) of log lines. */
    public static native void parse(long array, long schema, String specJson, boolean sparkTypes, long outArray, long outSchema);

    /** Windowed aggregation of a whole stream of record batches. */
    public static native void windowAggStream(long input, String specJson, boolean sparkTypes, long out);

    /** Rolling aggregation of a whole stream of record batches. */
    public static native void rollingStream(long input, String specJson, boolean sparkTypes, long out);

    /** Parses a stream of one-column batches of lines, lazily: one output batch per input batch. */
    public static native void parseStream(long input, String specJson, boolean sparkTypes, long out);

    /** Reads and parses a log file in chunks of about {@code chunkBytes} (0: the default) as batches are pulled. */
    public static native void readLog(String path, String specJson, long chunkBytes, boolean sparkTypes, long out);

    /**
     * Benchmark support: takes a batch like {@link #windowAgg}, times only the
     * kernel's window aggregation and returns the nanoseconds (the result is
     * dropped). The JNI overhead benchmark compares it with a full call.
     */
    public static native long benchWindowAggNanos(long array, long schema, String specJson);

    /**
     * The first step of a window aggregation in parts: for every (keys, window)
     * of one record batch, the state of each aggregation as plain Arrow
     * columns. The batch's rows start at {@code firstPosition} of the whole
     * input (rows of equal time are ordered by it, for first/last).
     */
    public static native void windowAggPartial(long array, long schema, String specJson, long firstPosition, boolean sparkTypes,
                                               long outArray, long outSchema);

    /**
     * The second step: merges one batch of partial states (rows of
     * {@link #windowAggPartial} results, any number of parts, in any order)
     * of an input of schema {@code inputSchema} into what {@link #windowAgg}
     * gives for all their rows.
     */
    public static native void windowAggMerge(long inputSchema, long array, long schema, String specJson, boolean sparkTypes,
                                             long outArray, long outSchema);

    /** A window stream for a JSON window spec (with an optional "lateness"); a handle for the calls below. */
    public static native long windowStreamNew(String specJson);

    /** Pushes one record batch into a stream; writes the windows it closed. */
    public static native void windowStreamPush(long stream, long array, long schema, boolean sparkTypes, long outArray, long outSchema);

    /** Moves a stream's watermark; writes the windows that closed. */
    public static native void windowStreamAdvance(long stream, long watermark, boolean sparkTypes, long outArray, long outSchema);

    /** Ends a stream's input; writes every open window. */
    public static native void windowStreamFinish(long stream, boolean sparkTypes, long outArray, long outSchema);

    /** Writes and clears a stream's late rows. */
    public static native void windowStreamTakeLate(long stream, boolean sparkTypes, long outArray, long outSchema);

    /** A stream's whole state as bytes. */
    public static native byte[] windowStreamSnapshot(long stream);

    /** A stream rebuilt from a snapshot; a handle. */
    public static native long windowStreamRestore(byte[] snapshot);

    /** Frees a stream handle (0 is ignored). */
    /** {@code [has watermark (0/1), watermark, rowsIn, rowsLate, nullTimesDropped, openWindows, stateBytes]}. */
    public static native long[] windowStreamInfo(long stream);

    public static native void windowStreamFree(long stream);

    /** A rolling stream for a JSON rolling spec (with optional "lateness" and "max_state_bytes"); a handle. */
    public static native long rollingStreamNew(String specJson);

    /** Pushes one record batch into a rolling stream; writes the rows whose results became final. */
    public static native void rollingStreamPush(long stream, long array, long schema, boolean sparkTypes, long outArray, long outSchema);

    /** Moves a rolling stream's watermark; writes the rows whose results became final. */
    public static native void rollingStreamAdvance(long stream, long watermark, boolean sparkTypes, long outArray, long outSchema);

    /** Ends a rolling stream's input; writes every remaining row's result. */
    public static native void rollingStreamFinish(long stream, boolean sparkTypes, long outArray, long outSchema);

    /** Writes and clears a rolling stream's late rows. */
    public static native void rollingStreamTakeLate(long stream, boolean sparkTypes, long outArray, long outSchema);

    /** A rolling stream's whole state as bytes. */
    public static native byte[] rollingStreamSnapshot(long stream);

    /** A rolling stream rebuilt from a snapshot; a handle. */
    public static native long rollingStreamRestore(byte[] snapshot);

    /** Frees a rolling stream handle (0 is ignored). */
    /** {@code [has watermark (0/1), watermark, rowsIn, rowsLate, nullTimesDropped, openWindows, stateBytes]}. */
    public static native long[] rollingStreamInfo(long stream);

    public static native void rollingStreamFree(long stream);

    /** Panics inside the native library: for the test that a panic becomes a {@link SashException} and the JVM goes on. */
    public static native void panicForTesting(String message);

    /** Every kind name a sash exception can carry, in the order of the C status codes. */
    public static native String[] errorKinds();

    /**
     * The exception (not thrown) the library throws for an error of {@code kind}
     * with {@code message}: the class the native error table gives the kind. Null
     * for a name that is no kind.
     */
    public static native Throwable exceptionFor(String kind, String message);

    /**
     * The typed exception of the last failed pull of a sash result stream on the
     * calling thread (a {@link SashException} or {@link SashSpecException}), or
     * null; taking it forgets it. Arrow Java reports a failed pull as an
     * {@code IOException} with a message only; this is its kind.
     */
    public static native RuntimeException takePullError();
}

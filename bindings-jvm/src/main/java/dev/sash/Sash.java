package dev.sash;

import java.nio.file.Path;
import java.util.Objects;
import org.apache.arrow.c.ArrowArrayStream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;

/**
 * sash from Java: windowed aggregation, rolling aggregation and log parsing on
 * Arrow Java data, computed by the same Rust kernel as every other binding.
 *
 * <pre>{@code
 * try (BufferAllocator allocator = new RootAllocator();
 *      VectorSchemaRoot events = ...;
 *      VectorSchemaRoot perMinute = Sash.windowAgg(events,
 *          WindowSpec.tumbling("ts", "1m").by("host").agg("count() as n").agg("mean(latency) as avg").build(),
 *          allocator)) {
 *     System.out.println(perMinute.contentToTSVString());
 * }
 * }</pre>
 *
 * <p>Data crosses by the Arrow C Data Interface: the input's buffers are read
 * in place and the result's buffers are handed over, never copied. Results
 * are allocated against (and accounted to) the caller's allocator; the caller
 * closes them. Inputs stay owned by the caller, except {@link ArrowReader}
 * inputs, which are consumed and closed. Every method may be called from any
 * thread, concurrently. Errors throw {@link SashSpecException} (an
 * {@link IllegalArgumentException}) for bad specs and {@link SashException}
 * otherwise. An error met while a result {@link ArrowReader} is being pulled
 * (a parse with {@code on_error: "raise"}, a failing input reader) comes out
 * of {@link ArrowReader#loadNextBatch()} as an {@link java.io.IOException}
 * with the kernel's message, as Arrow Java's readers report errors; its
 * cause is the {@link SashException} (or {@link SashSpecException}) with
 * the error's {@code kind()}.
 *
 * <p>{@link Thread#interrupt()} cancels a long call: the kernel asks between
 * chunks of work (at most every 10 ms) whether the calling thread is
 * interrupted and then throws {@link SashCancelledException} (kind
 * {@code "cancelled"}), leaving the thread's interrupt status set. A pull of
 * a result reader is cancelled the same way and throws an
 * {@link java.io.InterruptedIOException} whose cause is the
 * {@code SashCancelledException}; pulled again (once the interrupt is
 * cleared), the reader goes on where it stopped.
 */
public final class Sash {
    private Sash() {}

    /** The version of the native kernel, e.g. "0.1.0". */
    public static String version() {
        return NativeLib.version();
    }

    /**
     * Every error kind name a {@link SashException} or {@link SashSpecException}
     * can carry ({@code kind()}), from the native library's error table:
     * {@code null_argument}, {@code released}, {@code invalid_array}, the core's
     * kinds ({@code unknown_column} ... {@code resource_limit}, {@code cancelled})
     * and {@code internal}.
     */
    public static java.util.List<String> errorKinds() {
        return java.util.List.of(NativeLib.errorKinds());
    }

    /**
     * Sets how many threads sash's kernels use, for the whole process (every
     * thread calling sash shares them); 0 goes back to the default: the
     * {@code SASH_MAX_THREADS} environment variable, else the cores the
     * process may use. The count never changes a result, only how fast it
     * comes. Calls already running finish on the threads they started with.
     *
     * @throws SashException.InvalidInput for a count below 0 or above 1024
     */
    public static void setThreads(int threads) {
        NativeLib.setThreads(threads);
    }

    /** How many threads sash's kernels use (see {@link #setThreads(int)}). */
    public static int threads() {
        return NativeLib.threads();
    }

    /** Windowed aggregation of one batch; the result holds one row per (key, window). */
    public static VectorSchemaRoot windowAgg(VectorSchemaRoot input, WindowSpec spec, BufferAllocator allocator) {
        return windowAgg(input, null, spec, allocator);
    }

    /** As {@link #windowAgg(VectorSchemaRoot, WindowSpec, BufferAllocator)}, for an input with dictionary-encoded columns. */
    public static VectorSchemaRoot windowAgg(VectorSchemaRoot input, DictionaryProvider dictionaries, WindowSpec spec, BufferAllocator allocator) {
        Objects.requireNonNull(spec, "spec");
        return Kernel.batch(Kernel.Op.WINDOW, input, dictionaries, spec.toJson(), false, allocator);
    }

    /** Windowed aggregation of every batch of {@code input} (consumed and closed). */
    public static ArrowReader windowAgg(ArrowReader input, WindowSpec spec, BufferAllocator allocator) {
        Objects.requireNonNull(spec, "spec");
        return Kernel.stream(Kernel.Op.WINDOW, input, spec.toJson(), false, allocator);
    }

    /** Rolling aggregation of one batch: the input columns, then one column per aggregation, in input order. */
    public static VectorSchemaRoot rolling(VectorSchemaRoot input, RollingSpec spec, BufferAllocator allocator) {
        return rolling(input, null, spec, allocator);
    }

    /** As {@link #rolling(VectorSchemaRoot, RollingSpec, BufferAllocator)}, for an input with dictionary-encoded columns. */
    public static VectorSchemaRoot rolling(VectorSchemaRoot input, DictionaryProvider dictionaries, RollingSpec spec, BufferAllocator allocator) {
        Objects.requireNonNull(spec, "spec");
        return Kernel.batch(Kernel.Op.ROLLING, input, dictionaries, spec.toJson(), false, allocator);
    }

    /** Rolling aggregation of every batch of {@code input} (consumed and closed). */
    public static ArrowReader rolling(ArrowReader input, RollingSpec spec, BufferAllocator allocator) {
        Objects.requireNonNull(spec, "spec");
        return Kernel.stream(Kernel.Op.ROLLING, input, spec.toJson(), false, allocator);
    }

    /**
     * Parses each value of {@code lines} (a VarCharVector, LargeVarCharVector,
     * ViewVarCharVector or VarBinaryVector) as one log line: exactly one output
     * row per line, the format's columns then {@code _error}.
     */
    public static VectorSchemaRoot parse(FieldVector lines, ParseSpec spec, BufferAllocator allocator) {
        Objects.requireNonNull(spec, "spec");
        return Kernel.parseVector(lines, spec.toJson(), false, allocator);
    }

    /** Parses a stream of one-column batches of lines (consumed and closed), one output batch per input batch, lazily. */
    public static ArrowReader parse(ArrowReader lines, ParseSpec spec, BufferAllocator allocator) {
        Objects.requireNonNull(spec, "spec");
        return Kernel.stream(Kernel.Op.PARSE, lines, spec.toJson(), false, allocator);
    }

    /**
     * Reads and parses a log file in bounded memory: batches are read and parsed as they are pulled.
     * A gzip-compressed file ({@code access.log.1.gz}) is decompressed as it is read; if it is cut
     * short, its complete lines come first and then {@code loadNextBatch} throws.
     */
    public static ArrowReader readLog(Path path, ParseSpec spec, BufferAllocator allocator) {
        return readLog(path, spec, 0, allocator);
    }

    /** As {@link #readLog(Path, ParseSpec, BufferAllocator)}, with about {@code chunkBytes} of the file per batch (0: 16 MiB). */
    public static ArrowReader readLog(Path path, ParseSpec spec, long chunkBytes, BufferAllocator allocator) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(allocator, "allocator");
        if (chunkBytes < 0) throw new IllegalArgumentException("chunkBytes must be >= 0, got " + chunkBytes);
        try (ArrowArrayStream out = ArrowArrayStream.allocateNew(allocator)) {
            NativeLib.readLog(path.toString(), spec.toJson(), chunkBytes, false, out.memoryAddress());
            return Kernel.importStream(allocator, out);
        }
    }
}

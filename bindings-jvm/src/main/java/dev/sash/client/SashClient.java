package dev.sash.client;

import dev.sash.SashException;
import dev.sash.StreamStats;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.LargeVarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.util.VectorSchemaRootAppender;

/**
 * A client of {@code sash serve} (docs/protocol.md): windowed and rolling
 * aggregation, log parsing and streaming windows computed by a sash server
 * over a Unix domain socket, with Arrow Java's IPC only. Nothing here loads
 * native code: it works where {@link dev.sash.Sash} cannot be loaded.
 *
 * <pre>{@code
 * try (BufferAllocator allocator = new RootAllocator();
 *      SashClient sash = SashClient.connect(Path.of("/tmp/sash.sock"), allocator);
 *      VectorSchemaRoot perMinute = sash.windowAgg(events, "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count() as n\"]}")) {
 *     ...
 * }
 * }</pre>
 *
 * <p>Specs are the JSON strings {@link dev.sash.WindowStream} takes, or what
 * {@code WindowSpec}, {@code RollingSpec} and {@code ParseSpec}'s
 * {@code toJson()} give (pure Java too). Each call returns one root holding every
 * batch of the answer, copied into memory of the client's allocator; the
 * caller closes it (a string column of one root holds at most 2 GiB: parse
 * a larger log in parts). Inputs stay the caller's, without dictionary-encoded
 * columns; each input root is sent as one batch (the server takes batches of
 * up to 1 GiB). Errors throw
 * {@link SashException} with the server's kind ({@code "unknown_column"},
 * ...); a connection that breaks before an answer is complete throws kind
 * {@code "connection_lost"} (or {@code "cancelled"} when the calling thread
 * was interrupted) and closes the client: a partial result is never returned.
 *
 * <p>A client serves one call at a time (its methods are synchronized):
 * threads that want calls at once open a client each, which the server serves
 * on threads of its own. {@link #close()} from another thread aborts a call
 * in progress. Streams ({@link #openWindowStream}) live as long as their client.
 */
public final class SashClient implements AutoCloseable {
    private static final byte[] MAGIC = "SASH".getBytes(StandardCharsets.US_ASCII);
    /** A "key": value pair of a frame, the value not an object: the frames nest only "error" and "stats", whose keys are distinct. */
    private static final Pattern PAIR = Pattern.compile("\"(\\w+)\":\\s*(?:\"([^\"\\\\]*+(?:\\\\.[^\"\\\\]*+)*+)\"|([-+.\\w]+))");
    private static final Pattern ESCAPE = Pattern.compile("\\\\(?:u(\\p{XDigit}{4})|(.))");
    private final SocketChannel socket;
    private final BufferAllocator allocator;
    private final Pipe pipe = new Pipe();
    private volatile boolean closed;

    /** The socket as Arrow's IPC reader and writer see it: they close their channel, which must stay open. */
    private final class Pipe implements ByteChannel {
        @Override public int read(ByteBuffer b) throws IOException { return socket.read(b); }
        @Override public int write(ByteBuffer b) throws IOException { return socket.write(b); }
        @Override public boolean isOpen() { return socket.isOpen(); }
        @Override public void close() {}
    }

    /** What a request sends after its frame: one Arrow IPC stream. */
    interface Body {
        void write(ByteChannel out) throws IOException;
    }

    /** An answer: its rows (null when it has none) and its last frame's "key": value pairs, nested ones included. */
    record Answer(VectorSchemaRoot rows, Map<String, Object> frame) {}

    private SashClient(SocketChannel socket, BufferAllocator allocator) {
        this.socket = socket;
        this.allocator = allocator;
    }

    /** Connects to {@code sash serve --socket socket}; results are allocated from {@code allocator}. */
    public static SashClient connect(Path socket, BufferAllocator allocator) {
        try {
            Objects.requireNonNull(allocator, "allocator");
            return new SashClient(SocketChannel.open(UnixDomainSocketAddress.of(socket)), allocator);
        } catch (IOException e) {
            throw new UncheckedIOException("sash serve: cannot connect to " + socket, e);
        }
    }

    /** The server's version, e.g. "0.1.0". */
    public String version() { return String.valueOf(frame("{\"op\":\"hello\"}", null).get("version")); }

    /** Windowed aggregation of {@code input}: one row per (key, window). */
    public VectorSchemaRoot windowAgg(VectorSchemaRoot input, String spec) { return rows(request("window_agg", spec, ""), batch(input)); }

    /** Rolling aggregation of {@code input}: the input columns, then one column per aggregation. */
    public VectorSchemaRoot rolling(VectorSchemaRoot input, String spec) { return rows(request("rolling", spec, ""), batch(input)); }

    /** Parses each value of {@code lines} (a string or binary vector, which stays the caller's) as one log line. */
    public VectorSchemaRoot parse(FieldVector lines, String spec) {
        return rows(request("parse", spec, ",\"input\":\"lines\""), batch(new VectorSchemaRoot(List.of(lines))));
    }

    /** Parses each string (null: a null line) as one log line. */
    public VectorSchemaRoot parse(List<String> lines, String spec) {
        try (VarCharVector vector = new VarCharVector("line", allocator)) {
            vector.allocateNew(lines.size());
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i) != null) vector.setSafe(i, lines.get(i).getBytes(StandardCharsets.UTF_8));
            }
            vector.setValueCount(lines.size());
            return parse(vector, spec);
        }
    }

    /** Parses a log's bytes (lines and multi-line records; gzip is detected), sent in values of 16 MiB. */
    public VectorSchemaRoot parseBytes(byte[] data, String spec) { return rows(request("parse", spec, ",\"input\":\"bytes\""), bytes(data)); }

    /** A window stream (the spec with {@code "lateness"}) the server keeps for this client. */
    public RemoteStream openWindowStream(String spec) { return session(request("open", spec, ",\"stream\":\"window\""), null); }

    /** A rolling stream (the spec with {@code "lateness"}) the server keeps for this client. */
    public RemoteStream openRollingStream(String spec) { return session(request("open", spec, ",\"stream\":\"rolling\""), null); }

    /** The window stream a snapshot (of {@link RemoteStream#snapshot()} or of any binding) was taken of. */
    public RemoteStream restoreWindowStream(byte[] snapshot) { return session("{\"op\":\"restore\",\"stream\":\"window\"}", bytes(snapshot)); }

    /** The rolling stream a snapshot was taken of. */
    public RemoteStream restoreRollingStream(byte[] snapshot) { return session("{\"op\":\"restore\",\"stream\":\"rolling\"}", bytes(snapshot)); }

    /** Whether the client may be used: not closed, its connection not lost. */
    public boolean isOpen() { return !closed; }

    /** Closes the connection (the server drops its streams); closing twice is harmless. */
    @Override
    public void close() {
        closed = true;
        try {
            socket.close();
        } catch (IOException ignored) {
            // closed all the same
        }
    }

    private RemoteStream session(String request, Body body) { return new RemoteStream((Long) frame(request, body).get("session")); }

    /** A request frame with a spec: the caller's JSON goes as a JSON string, which the server parses as the in-process calls do. */
    private static String request(String op, String spec, String more) {
        String quoted = Pattern.compile("[\\x00-\\x1f\"\\\\]").matcher(Objects.requireNonNull(spec, "spec"))
                .replaceAll(m -> Matcher.quoteReplacement(String.format("\\u%04x", (int) m.group().charAt(0))));
        return "{\"op\":\"" + op + "\",\"spec\":\"" + quoted + "\"" + more + "}";
    }

    Body batch(VectorSchemaRoot root) {
        Objects.requireNonNull(root, "input");
        return out -> {
            try (ArrowStreamWriter writer = new ArrowStreamWriter(root, null, out)) {
                writer.writeBatch();
                writer.end();
            }
        };
    }

    private Body bytes(byte[] data) {
        Objects.requireNonNull(data, "data");
        return out -> {
            try (LargeVarBinaryVector vector = new LargeVarBinaryVector("bytes", allocator); VectorSchemaRoot root = VectorSchemaRoot.of(vector);
                    ArrowStreamWriter writer = new ArrowStreamWriter(root, null, out)) {
                for (int at = 0; at < data.length; at += 16 << 20) {
                    vector.reset();
                    vector.setSafe(0, data, at, Math.min(16 << 20, data.length - at));
                    root.setRowCount(1);
                    writer.writeBatch();
                }
                writer.end();
            }
        };
    }

    /** The rows of an answer that has rows. */
    VectorSchemaRoot rows(String request, Body body) { return Objects.requireNonNull(call(request, body).rows(), "sash serve: an answer without rows"); }

    /** The last frame of an answer without rows. */
    Map<String, Object> frame(String request, Body body) {
        Answer answer = call(request, body);
        if (answer.rows() != null) answer.rows().close();
        return answer.frame();
    }

    /** Sends one request, its IPC stream written by another thread while the answer is read, and reads the whole answer. */
    synchronized Answer call(String request, Body body) {
        if (closed) throw new IllegalStateException("the SashClient is closed");
        CompletableFuture<Void> written = new CompletableFuture<>();
        Runnable send = () -> {
            try {
                byte[] json = request.getBytes(StandardCharsets.UTF_8);
                ByteBuffer frame = ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN).put(MAGIC).putInt(json.length).put(json);
                for (frame.flip(); frame.hasRemaining(); ) socket.write(frame);
                if (body != null) body.write(pipe);
                written.complete(null);
            } catch (Throwable e) {
                if (!(e instanceof IOException)) close(); // the caller's input failed: the server would wait for the rest
                written.completeExceptionally(e);
            }
        };
        if (body == null) send.run(); // a frame alone: no thread
        else new Thread(send, "sash-client-writer").start();
        VectorSchemaRoot rows = null;
        RuntimeException problem = null;
        try {
            Map<String, Object> frame = readFrame();
            if (Boolean.TRUE.equals(frame.get("ok")) && Boolean.TRUE.equals(frame.get("stream"))) {
                try (ArrowStreamReader reader = new ArrowStreamReader(pipe, allocator)) { // its batches, appended into one root
                    rows = VectorSchemaRoot.create(reader.getVectorSchemaRoot().getSchema(), allocator);
                    rows.allocateNew();
                    while (reader.loadNextBatch()) VectorSchemaRootAppender.append(false, rows, reader.getVectorSchemaRoot());
                }
                frame = readFrame(); // the tail: only now is the answer complete
            }
            if (Boolean.TRUE.equals(frame.get("ok"))) return new Answer(rows, frame);
            problem = new SashException(String.valueOf(frame.get("kind")), String.valueOf(frame.get("message")));
            if (Boolean.TRUE.equals(frame.get("closed"))) close(); // the server said it closes the connection
        } catch (IOException | RuntimeException e) {
            // An interrupt that stopped a read closed the channel and left the thread's interrupt status set.
            problem = e instanceof RuntimeException r ? r : new SashException(Thread.currentThread().isInterrupted() ? "cancelled" : "connection_lost",
                    "sash serve: the connection was lost before the answer was complete (" + e + ")");
            close(); // also stops the writer
        } finally {
            Throwable failed = written.handle((done, e) -> e).join(); // uninterruptible
            if (failed != null) close(); // a request not sent whole: the connection cannot go on
            if (failed instanceof RuntimeException e) problem = e; // the caller's input could not be written
            if (problem != null && rows != null) rows.close();
        }
        throw problem;
    }

    /** A frame's "key": value pairs (strings, numbers, booleans, null), those of its nested objects included. */
    private Map<String, Object> readFrame() throws IOException {
        ByteBuffer head = readFully(8).order(ByteOrder.LITTLE_ENDIAN);
        if (!head.slice(0, 4).equals(ByteBuffer.wrap(MAGIC)) || head.getInt(4) < 0 || head.getInt(4) > 1 << 20) throw new IOException("not a sash frame");
        Map<String, Object> frame = new HashMap<>();
        for (Matcher m = PAIR.matcher(new String(readFully(head.getInt(4)).array(), StandardCharsets.UTF_8)); m.find(); ) {
            String word = m.group(3);
            frame.put(m.group(1), m.group(2) != null ? ESCAPE.matcher(m.group(2)).replaceAll(e -> Matcher.quoteReplacement(e.group(1) != null
                    ? String.valueOf((char) Integer.parseInt(e.group(1), 16)) : String.valueOf("\b\f\n\r\t/\"\\".charAt("bfnrt/\"\\".indexOf(e.group(2))))))
                    : word.equals("null") ? null : word.matches("true|false") ? (Object) Boolean.valueOf(word)
                    : word.matches("-?\\d+") ? (Object) Long.valueOf(word) : (Object) Double.valueOf(word));
        }
        return frame;
    }

    private ByteBuffer readFully(int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) if (socket.read(buffer) < 0) throw new EOFException("the connection ended");
        return buffer;
    }

    /**
     * A window or rolling stream kept by the server for this client, as long
     * as its connection lives (see {@link dev.sash.WindowStream} for what each
     * call does). Results are allocated from the client's allocator and closed
     * by the caller. A failed call leaves the stream as it was.
     */
    public final class RemoteStream implements AutoCloseable {
        private final long session;
        private boolean closed;

        private RemoteStream(long session) {
            this.session = session;
        }

        private String request(String op, String more) {
            if (closed) throw new IllegalStateException("the stream is closed");
            return "{\"op\":\"" + op + "\",\"session\":" + session + more + "}";
        }

        /** Takes the rows of {@code batch} (which stays the caller's); returns the results this push made final, possibly none. */
        public synchronized VectorSchemaRoot push(VectorSchemaRoot batch) { return rows(request("push", ""), batch(batch)); }

        /** Moves the watermark to {@code watermark} (ticks of the time column) if that is later; returns the results that became final. */
        public synchronized VectorSchemaRoot advance(long watermark) { return rows(request("advance", ",\"watermark\":" + watermark), null); }

        /** Ends the input: returns every open result. */
        public synchronized VectorSchemaRoot finish() { return rows(request("finish", ""), null); }

        /** The rows that came too late to count; taking them clears them. */
        public synchronized VectorSchemaRoot takeLate() { return rows(request("take_late", ""), null); }

        /** The whole state as bytes, for {@link SashClient#restoreWindowStream} (or any binding's restore). */
        public synchronized byte[] snapshot() {
            try (VectorSchemaRoot root = rows(request("snapshot", ""), null)) {
                return ((LargeVarBinaryVector) root.getVector(0)).get(0);
            }
        }

        /** The watermark in ticks of the time column: empty until a push with a time or an advance sets it. */
        public synchronized OptionalLong watermark() {
            return frame(request("stats", ""), null).get("watermark") instanceof Long w ? OptionalLong.of(w) : OptionalLong.empty();
        }

        /** What the stream has seen: rows in, rows late, null times dropped, open states, state bytes. */
        public synchronized StreamStats stats() {
            Map<String, Object> s = frame(request("stats", ""), null);
            return new StreamStats((Long) s.get("rows_in"), (Long) s.get("rows_late"), (Long) s.get("null_times_dropped"), (Long) s.get("open_windows"),
                    (Long) s.get("state_bytes"));
        }

        /** Drops the server's state (nothing to do once the client is closed); closing twice is harmless. */
        @Override
        public synchronized void close() {
            if (!closed && isOpen()) frame(request("close", ""), null);
            closed = true;
        }
    }
}

package dev.sash;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A result stream of the kernel: Arrow Java's reader of the C stream sash
 * wrote, whose failed pulls get their kind. Arrow Java reports a failed pull
 * as an {@link IOException} with a message only; this reader throws instead
 * an {@code IOException} with the kernel's message whose cause is the
 * {@link SashException} or {@link SashSpecException} (with {@code kind()})
 * of the failure, and for a pull
 * cancelled by {@link Thread#interrupt()} an {@link InterruptedIOException}
 * whose cause is a {@link SashCancelledException}. Everything else is the
 * wrapped reader's: its root, its dictionaries; closing this closes it.
 */
final class KernelReader extends ArrowReader {
    private final ArrowReader stream;

    KernelReader(BufferAllocator allocator, ArrowReader stream) {
        super(allocator);
        this.stream = stream;
    }

    @Override
    public boolean loadNextBatch() throws IOException {
        try {
            return stream.loadNextBatch();
        } catch (IOException e) {
            throw typed(e);
        }
    }

    /** The failure of a pull with its kind, when the kernel gave one for it on this thread. */
    static IOException typed(IOException e) {
        RuntimeException cause = NativeLib.takePullError();
        if (cause == null) return e;
        IOException typed = cause instanceof SashCancelledException ? new InterruptedIOException(cause.getMessage()) : new IOException(cause.getMessage());
        typed.initCause(cause);
        return typed;
    }

    @Override
    public VectorSchemaRoot getVectorSchemaRoot() throws IOException {
        return stream.getVectorSchemaRoot();
    }

    @Override
    public Map<Long, Dictionary> getDictionaryVectors() throws IOException {
        return stream.getDictionaryVectors();
    }

    @Override
    public Dictionary lookup(long id) {
        return stream.lookup(id);
    }

    @Override
    public Set<Long> getDictionaryIds() {
        return stream.getDictionaryIds();
    }

    @Override
    public long bytesRead() {
        return stream.bytesRead();
    }

    @Override
    public void close(boolean closeReadSource) throws IOException {
        stream.close(closeReadSource);
    }

    @Override
    protected void closeReadSource() throws IOException {
        stream.close();
    }

    @Override
    protected Schema readSchema() throws IOException {
        return stream.getVectorSchemaRoot().getSchema();
    }
}

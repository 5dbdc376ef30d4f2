package dev.sash;

import java.io.IOException;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/** An ArrowReader over batches held in memory; it closes them when closed. */
final class RootsReader extends ArrowReader {
    private final List<VectorSchemaRoot> batches;
    private final Schema schema;
    private int next;

    RootsReader(BufferAllocator allocator, List<VectorSchemaRoot> batches) {
        this(allocator, batches.get(0).getSchema(), batches);
    }

    RootsReader(BufferAllocator allocator, Schema schema, List<VectorSchemaRoot> batches) {
        super(allocator);
        this.batches = batches;
        this.schema = schema;
    }

    @Override
    public boolean loadNextBatch() throws IOException {
        if (next >= batches.size()) return false;
        VectorSchemaRoot batch = batches.get(next++);
        try (ArrowRecordBatch record = new VectorUnloader(batch).getRecordBatch()) {
            loadRecordBatch(record);
        }
        return true;
    }

    @Override
    public long bytesRead() {
        return 0;
    }

    @Override
    protected void closeReadSource() {
        batches.forEach(VectorSchemaRoot::close);
    }

    @Override
    protected Schema readSchema() {
        return schema;
    }
}

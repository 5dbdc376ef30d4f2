package dev.sash;

import java.io.IOException;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/** An ArrowReader over batches held in memory; it closes them (and its dictionaries) when closed. */
final class RootsReader extends ArrowReader {
    private final List<VectorSchemaRoot> batches;
    private final Schema schema;
    private final List<Dictionary> dictionaries;
    private boolean dictionariesLoaded;
    private int next;

    RootsReader(BufferAllocator allocator, List<VectorSchemaRoot> batches) {
        this(allocator, batches.get(0).getSchema(), batches);
    }

    RootsReader(BufferAllocator allocator, Schema schema, List<VectorSchemaRoot> batches) {
        this(allocator, schema, batches, List.of());
    }

    /**
     * Batches with dictionary-encoded columns: {@code schema} is in the IPC
     * message form (a dictionary field has the value type and its encoding),
     * the batches hold the index vectors, and {@code dictionaries} (one per
     * encoding id, shared by every batch) are loaded before the first batch.
     */
    RootsReader(BufferAllocator allocator, Schema schema, List<VectorSchemaRoot> batches, List<Dictionary> dictionaries) {
        super(allocator);
        this.batches = batches;
        this.schema = schema;
        this.dictionaries = dictionaries;
    }

    @Override
    public boolean loadNextBatch() throws IOException {
        ensureInitialized();
        if (!dictionariesLoaded) {
            dictionariesLoaded = true;
            for (Dictionary dictionary : dictionaries) {
                FieldVector values = dictionary.getVector();
                // Not closed: it only wraps the dictionary's vector, which closeReadSource closes.
                VectorSchemaRoot wrapper = new VectorSchemaRoot(List.of(values.getField()), List.of(values), values.getValueCount());
                ArrowRecordBatch contents = new VectorUnloader(wrapper).getRecordBatch();
                try (ArrowDictionaryBatch batch = new ArrowDictionaryBatch(dictionary.getEncoding().getId(), contents, false)) {
                    loadDictionary(batch);
                }
            }
        }
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
        dictionaries.forEach(d -> d.getVector().close());
    }

    @Override
    protected Schema readSchema() {
        return schema;
    }
}

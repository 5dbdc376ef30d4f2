package dev.sash;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One WindowStream carried across languages by its snapshot: Python → Java → C → Python
 * (tests/cross/snapshot_chain.py says how). The output of the chain is the output of
 * one stream that never stopped, line for line, and the snapshot C writes is, byte for
 * byte, the one that stream has at the same row.
 */
class SnapshotChainTest {
    private static Path repo() {
        return Path.of(System.getProperty("sash.repo.root", "..")).toAbsolutePath().normalize();
    }

    /** Runs a program from the repository root; fails the test with its output when it fails. */
    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(repo().toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", command) + " failed:\n" + output);
    }

    /** Rows [start, end): ts = 2i - i % 3, key = i % 4, v = 7i % 11 (as snapshot_chain.py). */
    private static VectorSchemaRoot rows(BufferAllocator allocator, int start, int end) {
        BigIntVector ts = new BigIntVector("ts", allocator);
        IntVector key = new IntVector("key", allocator);
        BigIntVector v = new BigIntVector("v", allocator);
        int n = end - start;
        ts.allocateNew(n);
        key.allocateNew(n);
        v.allocateNew(n);
        for (int j = 0; j < n; j++) {
            long i = start + j;
            ts.set(j, 2 * i - i % 3);
            key.set(j, (int) (i % 4));
            v.set(j, 7 * i % 11);
        }
        ts.setValueCount(n);
        key.setValueCount(n);
        v.setValueCount(n);
        return new VectorSchemaRoot(List.of(ts, key, v));
    }

    private static void lines(VectorSchemaRoot out, List<String> into) {
        try (out) {
            for (int r = 0; r < out.getRowCount(); r++) {
                long[] ints = new long[10];
                String[] names = {"window_start", "window_end", "key", "n", "s", "lo", "hi", "cd", "f", "l"};
                for (int c = 0; c < names.length; c++) {
                    Object value = out.getVector(names[c]).getObject(r);
                    ints[c] = ((Number) value).longValue();
                }
                double med = ((Float8Vector) out.getVector("med")).get(r);
                into.add(String.format(Locale.ROOT, "%d,%d,%d,%d,%d,%d,%d,%d,%.1f,%d,%d",
                        ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7], med, ints[8], ints[9]));
            }
        }
    }

    @Test
    void aSnapshotGoesPythonJavaCPython(@TempDir Path dir) throws Exception {
        String python = System.getProperty("sash.python", repo().resolve(".venv/bin/python").toString());
        String cStep = repo().resolve("tests/c/build/snapshot_step").toString();
        String chain = repo().resolve("tests/cross/snapshot_chain.py").toString();
        Path a = dir.resolve("a.snap"), b = dir.resolve("b.snap"), c = dir.resolve("c.snap"), r = dir.resolve("r.snap");

        run(python, chain, "start", a.toString(), dir.resolve("py1.txt").toString());
        List<String> javaLines = new ArrayList<>();
        try (BufferAllocator allocator = new RootAllocator();
             WindowStream stream = WindowStream.restore(Files.readAllBytes(a))) {
            for (int start = 100; start < 200; start += 25) {
                try (VectorSchemaRoot in = rows(allocator, start, start + 25)) {
                    lines(stream.push(in, allocator), javaLines);
                }
            }
            Files.write(b, stream.snapshot());
            Files.write(dir.resolve("java.txt"), javaLines);
        }
        run(cStep, b.toString(), c.toString(), dir.resolve("c.txt").toString());
        run(python, chain, "finish", c.toString(), dir.resolve("py2.txt").toString());
        run(python, chain, "reference", dir.resolve("ref.txt").toString(), r.toString());

        List<String> chained = new ArrayList<>();
        for (String part : new String[] {"py1.txt", "java.txt", "c.txt", "py2.txt"}) {
            List<String> partLines = Files.readAllLines(dir.resolve(part));
            assertTrue(!partLines.isEmpty(), part + " emitted nothing: the chain would not test that step's output");
            chained.addAll(partLines);
        }
        List<String> reference = Files.readAllLines(dir.resolve("ref.txt"));
        for (int i = 0; i < Math.min(reference.size(), chained.size()); i++) {
            assertEquals(reference.get(i), chained.get(i), "emitted window " + i + " (window_start,window_end,key,n,s,lo,hi,cd,med,f,l)");
        }
        assertEquals(reference.size(), chained.size(), "windows emitted by the chain and by one stream");
        assertArrayEquals(Files.readAllBytes(r), Files.readAllBytes(c), "C's snapshot after row 300 is the unbroken stream's");
    }
}

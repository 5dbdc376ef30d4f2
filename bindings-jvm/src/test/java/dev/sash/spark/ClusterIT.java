package dev.sash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sash.ParseSpec;
import dev.sash.Sash;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.UInt8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged jar on a real Spark standalone cluster: a master and two
 * one-core workers started from the pyspark distribution, {@link SashSparkJob}
 * submitted to it, its CSV compared with the same table computed here without
 * Spark. The executors are separate JVMs that get nothing but the jar, so this
 * is the test that the native library loads from inside it where Spark really
 * runs tasks (local mode shares the test's class path and JVM).
 *
 * <p>Needs {@code sash.jar} (the shaded jar; failsafe runs after package) and
 * {@code sash.spark.home} (a Spark distribution with {@code bin/spark-class};
 * the pip package has no {@code sbin/start-*.sh}, so the daemons are started
 * here directly). Everything the cluster writes is under
 * {@code target/cluster-it/}.
 */
class ClusterIT {
    static final Path REPO = Path.of(System.getProperty("sash.repo.root", "..")).toAbsolutePath().normalize();
    static final Path LOG = REPO.resolve("tests/data/logs/apache_combined_10k.log");
    static final Path JAR = Path.of(Objects.requireNonNull(System.getProperty("sash.jar"), "the system property sash.jar")).toAbsolutePath();
    static final Path SPARK_HOME = Path.of(Objects.requireNonNull(System.getProperty("sash.spark.home"), "the system property sash.spark.home")).toAbsolutePath();
    static final Path WORK = JAR.getParent().resolve("cluster-it");
    static final Duration WORKERS_TIMEOUT = Duration.ofSeconds(60);
    static final Duration JOB_TIMEOUT = Duration.ofMinutes(3);
    static final ObjectMapper JSON = new ObjectMapper();

    /** The daemons started, in start order (workers after their master). */
    static final List<Process> daemons = new ArrayList<>();
    static int masterPort;
    /** Worker web UI port → worker name (the executors' log URLs point at it). */
    static final Map<Integer, String> workerUiPorts = new HashMap<>();

    @BeforeAll
    static void startCluster() throws Exception {
        assertTrue(Files.isRegularFile(JAR), "no jar at " + JAR + ": run the IT through mvn verify");
        assertTrue(Files.isExecutable(SPARK_HOME.resolve("bin/spark-class")), "no Spark distribution at " + SPARK_HOME + " (-Dsash.spark.home)");
        deleteRecursively(WORK);
        Files.createDirectories(WORK.resolve("conf"));
        // Also when the test JVM is killed (a failsafe timeout, Ctrl-C) rather than finishing.
        Runtime.getRuntime().addShutdownHook(new Thread(ClusterIT::stopCluster));

        masterPort = freePort();
        int masterUi = freePort();
        String master = "spark://127.0.0.1:" + masterPort;
        daemons.add(start("master", List.of(sparkBin("spark-class"), "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1", "--port", String.valueOf(masterPort), "--webui-port", String.valueOf(masterUi))));
        for (String worker : List.of("worker1", "worker2")) {
            int ui = freePort();
            workerUiPorts.put(ui, worker);
            Path dir = Files.createDirectories(WORK.resolve(worker));
            daemons.add(start(worker, List.of(sparkBin("spark-class"), "org.apache.spark.deploy.worker.Worker", master,
                    "--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", String.valueOf(ui), "--work-dir", dir.toString())));
        }
        awaitWorkers(masterUi, 2);
    }

    @AfterAll
    static void stopCluster() {
        synchronized (daemons) {
            // Workers first: their executors are their children.
            for (int i = daemons.size() - 1; i >= 0; i--) destroyTree(daemons.get(i));
            daemons.clear();
        }
    }

    @Test
    void jobOnTwoWorkersEqualsTheSingleProcessKernel() throws Exception {
        Path out = WORK.resolve("out");
        Path events = Files.createDirectories(WORK.resolve("events"));
        List<String> submit = List.of(sparkBin("spark-submit"),
                "--master", "spark://127.0.0.1:" + masterPort,
                "--deploy-mode", "client",
                "--class", SashSparkJob.class.getName(),
                "--conf", "spark.executor.cores=1",
                "--conf", "spark.cores.max=2",
                "--conf", "spark.executor.memory=1g",
                "--conf", "spark.sql.session.timeZone=UTC",
                "--conf", "spark.sql.shuffle.partitions=4",
                // Tasks on both executors: none start before both registered
                // (standalone's default is to start with whatever is there),
                // the 2.4 MB log is read in 5 splits, and no task waits for a
                // preferred executor (the shuffle's reducers would).
                "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
                "--conf", "spark.sql.files.maxPartitionBytes=512k",
                "--conf", "spark.locality.wait=0",
                // The record of which executor ran which task.
                "--conf", "spark.eventLog.enabled=true",
                "--conf", "spark.eventLog.dir=" + events.toUri(),
                "--conf", "spark.eventLog.compress=false",
                "--conf", "spark.eventLog.rolling.enabled=false",
                "--conf", "spark.ui.enabled=false",
                JAR.toString(), LOG.toString(), out.toString());
        ProcessBuilder builder = new ProcessBuilder(submit)
                .redirectOutput(WORK.resolve("submit.out").toFile())
                .redirectError(WORK.resolve("submit.err").toFile());
        configure(builder);
        Process job = builder.start();
        if (!job.waitFor(JOB_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            destroyTree(job);
            fail("spark-submit did not finish in " + JOB_TIMEOUT + "\n" + tails("submit.out", "submit.err", "master.log"));
        }
        assertEquals(0, job.exitValue(), "spark-submit failed\n" + tails("submit.out", "submit.err"));

        List<String> expected = expectedCsv();
        String stdout = Files.readString(WORK.resolve("submit.out"));
        assertTrue(stdout.contains("sash: wrote " + (expected.size() - 1) + " rows to " + out), stdout);

        assertTrue(Files.exists(out.resolve("_SUCCESS")), "no _SUCCESS in " + out);
        List<Path> parts;
        try (Stream<Path> files = Files.list(out)) {
            parts = files.filter(p -> p.getFileName().toString().endsWith(".csv")).toList();
        }
        assertEquals(1, parts.size(), "one CSV file: " + parts);
        List<String> actual = Files.readAllLines(parts.get(0));
        for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
            assertEquals(expected.get(i), actual.get(i), "line " + (i + 1) + " of " + parts.get(0));
        }
        assertEquals(expected.size(), actual.size(), "lines in " + parts.get(0));

        // Both workers' executors ran tasks of the stages that call sash.
        Set<String> workers = workersThatRanSash(events);
        assertEquals(Set.copyOf(workerUiPorts.values()), workers, "the workers whose executors ran sash tasks\n" + tails("master.log"));
    }

    /**
     * The job's table computed in this JVM with the single-process Java API
     * and plain Java grouping: header, then one line per (10-minute window,
     * status), sorted, formatted as the job writes them.
     */
    static List<String> expectedCsv() throws IOException {
        record Key(long start, Integer status) {}
        Comparator<Key> order = Comparator.comparingLong(Key::start).thenComparing(Key::status, Comparator.nullsFirst(Comparator.naturalOrder()));
        Map<Key, Long> requests = new TreeMap<>(order);
        Map<Key, Long> bytes = new HashMap<>();  // no entry: no size in the group, an empty CSV field
        long window = 600L * 1_000_000L;
        try (BufferAllocator allocator = new RootAllocator()) {
            try (ArrowReader reader = Sash.readLog(LOG, ParseSpec.of("combined"), allocator)) {
                while (reader.loadNextBatch()) {
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    TimeStampMicroTZVector time = (TimeStampMicroTZVector) root.getVector("timestamp");
                    UInt2Vector status = (UInt2Vector) root.getVector("status");
                    UInt8Vector size = (UInt8Vector) root.getVector("size");
                    for (int i = 0; i < root.getRowCount(); i++) {
                        if (!root.getVector("_error").isNull(i)) continue;  // the job leaves failed lines out
                        Key key = new Key(Math.floorDiv(time.get(i), window) * 600, status.isNull(i) ? null : (int) status.get(i));
                        requests.merge(key, 1L, Long::sum);
                        if (!size.isNull(i)) bytes.merge(key, size.getValueAsLong(i), Long::sum);
                    }
                }
            }
            assertEquals(0, allocator.getAllocatedMemory(), "Arrow memory left after reading the log");
        }
        List<String> lines = new ArrayList<>();
        lines.add("window_start,window_end,status,requests,bytes");
        requests.forEach((key, n) -> lines.add(Instant.ofEpochSecond(key.start()) + "," + Instant.ofEpochSecond(key.start() + 600) + ","
                + (key.status() == null ? "" : key.status()) + "," + n + "," + (bytes.containsKey(key) ? bytes.get(key) : "")));
        return lines;
    }

    /**
     * The workers (by name) whose executors ran successful tasks of stages with
     * an RDD made in SashSpark, from the job's event log: executors name their
     * worker through the web UI port in their log URLs.
     */
    static Set<String> workersThatRanSash(Path events) throws IOException {
        List<Path> logs;
        try (Stream<Path> files = Files.list(events)) {
            logs = files.toList();
        }
        assertEquals(1, logs.size(), "one event log: " + logs);
        Map<String, String> executorWorker = new HashMap<>();
        Set<Long> sashStages = new HashSet<>();
        Set<String> executors = new HashSet<>();
        List<JsonNode> taskEnds = new ArrayList<>();
        for (String line : Files.readAllLines(logs.get(0))) {
            JsonNode event = JSON.readTree(line);
            switch (event.path("Event").asText()) {
                case "SparkListenerExecutorAdded" -> {
                    String url = event.path("Executor Info").path("Log Urls").path("stderr").asText();
                    int port = URI.create(url).getPort();
                    executorWorker.put(event.path("Executor ID").asText(), workerUiPorts.getOrDefault(port, "unknown worker at " + url));
                }
                case "SparkListenerStageSubmitted" -> {
                    JsonNode stage = event.path("Stage Info");
                    for (JsonNode rdd : stage.path("RDD Info")) {
                        if (rdd.path("Callsite").asText().contains("SashSpark.java")) sashStages.add(stage.path("Stage ID").asLong());
                    }
                }
                case "SparkListenerTaskEnd" -> taskEnds.add(event);
                default -> {}
            }
        }
        assertFalse(sashStages.isEmpty(), "no stage with an RDD of SashSpark in " + logs.get(0));
        for (JsonNode end : taskEnds) {
            if (sashStages.contains(end.path("Stage ID").asLong()) && end.path("Task End Reason").path("Reason").asText().equals("Success")) {
                executors.add(end.path("Task Info").path("Executor ID").asText());
            }
        }
        return executors.stream().map(e -> executorWorker.getOrDefault(e, "unknown executor " + e)).collect(Collectors.toSet());
    }

    // ---- the cluster's processes ----

    static String sparkBin(String name) {
        return SPARK_HOME.resolve("bin").resolve(name).toString();
    }

    /** Every Spark process: this JVM's Java, loopback only, no site configuration, files under WORK. */
    static void configure(ProcessBuilder builder) {
        builder.directory(WORK.toFile());
        Map<String, String> env = builder.environment();
        env.put("SPARK_HOME", SPARK_HOME.toString());
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        env.put("SPARK_CONF_DIR", WORK.resolve("conf").toString());
        env.remove("SPARK_LOCAL_HOSTNAME");
        env.remove("HADOOP_CONF_DIR");
    }

    static Process start(String name, List<String> command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(WORK.resolve(name + ".log").toFile());
        configure(builder);
        return builder.start();
    }

    /** Polls the master's JSON status until {@code count} workers are alive. */
    static void awaitWorkers(int masterUi, int count) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + masterUi + "/json/")).timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + WORKERS_TIMEOUT.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            for (Process daemon : daemons) {
                if (!daemon.isAlive()) fail("a Spark daemon exited with " + daemon.exitValue() + "\n" + tails("master.log", "worker1.log", "worker2.log"));
            }
            try {
                last = http.send(request, HttpResponse.BodyHandlers.ofString()).body();
                if (JSON.readTree(last).path("aliveworkers").asInt() >= count) return;
            } catch (IOException e) {
                last = e.toString();  // the master is not listening yet
            }
            Thread.sleep(500);
        }
        fail("fewer than " + count + " workers registered after " + WORKERS_TIMEOUT + "; the master said: " + last + "\n"
                + tails("master.log", "worker1.log", "worker2.log"));
    }

    /** Ends a process and everything it started: TERM first (Spark cleans up), KILL after 10 s. */
    static void destroyTree(Process process) {
        // Collected before the parent goes: orphans are no longer its descendants.
        List<ProcessHandle> all = new ArrayList<>(process.descendants().toList());
        all.add(process.toHandle());
        all.forEach(ProcessHandle::destroy);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (ProcessHandle p : all) {
            try {
                p.onExit().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                p.destroyForcibly();
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** The last 40 lines of each file under target/cluster-it, for failure messages. */
    static String tails(String... names) {
        StringBuilder s = new StringBuilder();
        for (String name : names) {
            Path file = WORK.resolve(name);
            s.append("---- ").append(file).append(" ----\n");
            try {
                List<String> lines = Files.readAllLines(file);
                lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(l -> s.append(l).append('\n'));
            } catch (IOException | UncheckedIOException e) {
                s.append("(").append(e).append(")\n");
            }
        }
        return s.toString();
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}

package dev.sash.spark;

import static org.apache.spark.sql.functions.col;

import dev.sash.ParseSpec;
import dev.sash.WindowSpec;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * An example Spark job: requests and bytes per 10-minute window and HTTP status
 * of an Apache/nginx combined access log, written as one CSV file.
 *
 * <pre>
 * spark-submit --class dev.sash.spark.SashSparkJob sash.jar access.log out/
 * </pre>
 *
 * <p>The jar is all it needs: the native library travels inside it and each
 * executor loads it from there. The CSV has the columns {@code window_start,
 * window_end, status, requests, bytes}, sorted by window and status; times are
 * ISO 8601 with their offset ({@code 2015-05-17T10:00:00Z} with
 * {@code spark.sql.session.timeZone=UTC}), {@code bytes} is empty when no
 * request of the group had a size. Lines that do not parse are left out.
 *
 * <p>Any failure ends the process with a non-zero exit code, so scripts and
 * schedulers running {@code spark-submit} see it.
 */
public final class SashSparkJob {
    private SashSparkJob() {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: spark-submit --class " + SashSparkJob.class.getName() + " sash.jar <access.log> <output-dir>");
            System.exit(2);
        }
        SparkSession spark = SparkSession.builder().appName("sash example: requests per 10 minutes and status").getOrCreate();
        int status = 0;
        try {
            long rows = run(spark, args[0], args[1]);
            System.out.println("sash: wrote " + rows + " rows to " + args[1]);
        } catch (Throwable e) {
            // spark-submit would print an escaping exception, but the JVM can
            // then stay up on Spark's non-daemon threads: exit explicitly.
            e.printStackTrace();
            status = 1;
        } finally {
            spark.stop();
        }
        if (status != 0) System.exit(status);
    }

    /** Runs the job; returns the number of rows written. */
    static long run(SparkSession spark, String input, String output) {
        // One row per line, in the string column "value".
        Dataset<Row> lines = spark.read().text(input);
        // The combined format's columns: host, ident, user, timestamp, method,
        // path, protocol, status, size, referrer, user_agent and _error.
        // A line that does not parse is a row with _error set and the fields
        // it could not read null; leave those out (a null time would fail the
        // window aggregation).
        Dataset<Row> requests = SashSpark.parse(lines, "value", ParseSpec.of("combined")).filter(col("_error").isNull());
        Dataset<Row> perWindow = SashSpark.windowAgg(requests, WindowSpec.tumbling("timestamp", "10m").by("status")
                        .agg("count() as requests").agg("sum(size) as bytes").build())
                .select("window_start", "window_end", "status", "requests", "bytes")
                // coalesce(1) keeps the sorted order: it concatenates the sorted partitions.
                .orderBy(col("window_start"), col("status"))
                .coalesce(1)
                // Computed once for the file and the count below.
                .cache();
        perWindow.write()
                .mode("overwrite")
                .option("header", true)
                // Spark's default writes milliseconds; the offset keeps the times unambiguous.
                .option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ssXXX")
                .csv(output);
        long rows = perWindow.count();
        perWindow.unpersist();
        return rows;
    }
}

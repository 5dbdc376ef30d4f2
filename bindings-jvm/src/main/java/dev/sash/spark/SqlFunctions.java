package dev.sash.spark;

import dev.sash.Kernel;
import dev.sash.SashSpecException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.analysis.FunctionRegistry;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.connector.catalog.CatalogManager;
import org.apache.spark.sql.types.StructType;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * {@code sash_parse(line, format)} in Spark SQL. Its result type depends on
 * the format, which a plain UDF cannot express, so {@code sash_parse} is a
 * function builder: it reads the literal format (a name or a JSON spec),
 * registers a typed row-at-a-time UDF for that spec once
 * ({@code sash_parse_<hash>}) and resolves to it.
 */
final class SqlFunctions {
    private SqlFunctions() {}

    static final String NAME = "sash_parse";

    /** Memory of the row-at-a-time parses, one per executor JVM. */
    private static final class Memory {
        static final BufferAllocator ALLOCATOR = new RootAllocator();
    }

    static void register(SparkSession spark) {
        FunctionRegistry registry = ((org.apache.spark.sql.classic.SparkSession) spark).sessionState().functionRegistry();
        scala.Function1<Seq<Expression>, Expression> builder = children -> {
            if (children.size() != 2) {
                throw new SashSpecException("invalid_spec", NAME + " takes 2 arguments (line, format), got " + children.size());
            }
            Expression format = children.apply(1);
            if (!format.foldable()) {
                throw new SashSpecException("invalid_spec", NAME + ": the format must be a literal, such as 'combined'");
            }
            Object value = format.eval(null);
            if (value == null) throw new SashSpecException("invalid_spec", NAME + ": the format is null");
            String text = value.toString().trim();
            String spec = SashSpark.withUtf8Strings(text.startsWith("{") ? text : "{\"format\":\"" + text.replace("\"", "") + "\"}");
            String udfName = NAME + "_" + Integer.toHexString(spec.hashCode());
            // Temporary functions live in the system.session namespace.
            FunctionIdentifier id = new FunctionIdentifier(udfName, scala.Option.apply(CatalogManager.SESSION_NAMESPACE()),
                    scala.Option.apply(CatalogManager.SYSTEM_CATALOG_NAME()));
            if (!registry.functionExists(id)) {
                StructType type = SashSpark.parseSchema(spec);
                spark.udf().register(udfName, new ParseOne(spec, type), type);
            }
            try {
                return registry.lookupFunction(id, CollectionConverters.asScala(List.of(children.apply(0))).toList());
            } catch (org.apache.spark.sql.AnalysisException e) {
                throw SqlFunctions.<RuntimeException>rethrow(e);
            }
        };
        // A temporary function of the session, registered the way spark.udf().register does.
        registry.createOrReplaceTempFunction(NAME, builder, "scala_udf");
    }

    /** Rethrows a checked exception unchanged (Scala code throws AnalysisException without declaring it). */
    @SuppressWarnings("unchecked")
    private static <E extends Throwable> E rethrow(Throwable e) throws E {
        throw (E) e;
    }

    /** The UDF behind one spec: one line in, one struct out (null for a null line). */
    static final class ParseOne implements UDF1<String, Row> {
        private static final long serialVersionUID = 1L;
        private final String spec;
        private final StructType type;

        ParseOne(String spec, StructType type) {
            this.spec = spec;
            this.type = type;
        }

        @Override
        public Row call(String line) {
            if (line == null) return null;
            BufferAllocator allocator = Memory.ALLOCATOR;
            try (VarCharVector lines = new VarCharVector("line", allocator)) {
                lines.setSafe(0, line.getBytes(StandardCharsets.UTF_8));
                lines.setValueCount(1);
                try (VectorSchemaRoot parsed = Kernel.parseVector(lines, spec, true, allocator)) {
                    var row = ArrowPartitions.rows(parsed.getFieldVectors(), 1).next();
                    return (Row) CatalystTypeConverters.convertToScala(row, type);
                }
            }
        }
    }
}

package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The one error table: every kind name the native library knows (its list,
 * {@link Sash#errorKinds()}, built from the core's {@code ErrorKind::ALL}
 * and the binding's own statuses) maps to the exception class the README
 * documents, carrying its own kind name.
 */
class ErrorKindsTest {
    /** The README's table ("Errors"): kind name to exception class, in status-code order. */
    static final Map<String, Class<? extends RuntimeException>> DOCUMENTED = new LinkedHashMap<>();

    static {
        DOCUMENTED.put("null_argument", SashSpecException.class);
        DOCUMENTED.put("released", SashException.class);
        DOCUMENTED.put("invalid_array", SashException.class);
        DOCUMENTED.put("unknown_column", SashSpecException.class);
        DOCUMENTED.put("wrong_type", SashSpecException.class);
        DOCUMENTED.put("invalid_spec", SashSpecException.class);
        DOCUMENTED.put("invalid_duration", SashSpecException.class);
        DOCUMENTED.put("unknown_function", SashSpecException.class);
        DOCUMENTED.put("invalid_expression", SashSpecException.class);
        DOCUMENTED.put("null_time", SashException.class);
        DOCUMENTED.put("overflow", SashException.class);
        DOCUMENTED.put("invalid_input", SashException.class);
        DOCUMENTED.put("parse", SashException.class);
        DOCUMENTED.put("arrow", SashException.class);
        DOCUMENTED.put("resource_limit", SashException.class);
        DOCUMENTED.put("cancelled", SashCancelledException.class);
        DOCUMENTED.put("internal", SashException.class);
    }

    @Test
    void theLibraryKnowsExactlyTheDocumentedKinds() {
        assertEquals(List.copyOf(DOCUMENTED.keySet()), Sash.errorKinds(),
                "a kind the README does not document (add it to the README and this table), or the reverse");
    }

    @Test
    void everyKindMapsToItsDocumentedClassWithItsOwnName() {
        for (String kind : Sash.errorKinds()) {
            Throwable e = NativeLib.exceptionFor(kind, "message of " + kind);
            assertSame(DOCUMENTED.get(kind), e.getClass(), kind);
            assertEquals("message of " + kind, e.getMessage());
            String carried = e instanceof SashSpecException spec ? spec.kind() : ((SashException) e).kind();
            assertEquals(kind, carried);
            // Spec errors are IllegalArgumentExceptions; cancellation is a SashException too.
            assertEquals(DOCUMENTED.get(kind) == SashSpecException.class, e instanceof IllegalArgumentException, kind);
            if (kind.equals("cancelled")) assertTrue(e instanceof SashException);
        }
        assertNull(NativeLib.exceptionFor("no_such_kind", "x"));
        assertNull(NativeLib.exceptionFor("ok", "x"), "ok is no error kind");
    }

    @Test
    void noPullErrorIsLeftBehindOnAFreshThread() {
        assertNull(NativeLib.takePullError());
    }
}

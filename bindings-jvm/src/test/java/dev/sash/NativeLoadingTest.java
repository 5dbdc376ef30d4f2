package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import org.junit.jupiter.api.Test;

/**
 * The library loads in several class loaders of one JVM (as Spark executors,
 * application servers and test runners create them): a JVM binds one library
 * file to one class loader only, so each loader must get its own copy.
 */
class NativeLoadingTest {
    @Test
    void twoIsolatedClassLoadersEachLoadTheLibrary() throws Exception {
        URL classes = NativeLib.class.getProtectionDomain().getCodeSource().getLocation();
        String expected = NativeLib.version();
        try (URLClassLoader first = new URLClassLoader(new URL[] {classes}, null);
             URLClassLoader second = new URLClassLoader(new URL[] {classes}, null)) {
            Class<?> a = Class.forName("dev.sash.NativeLib", true, first);
            Class<?> b = Class.forName("dev.sash.NativeLib", true, second);
            assertNotSame(a, b, "each loader defines its own NativeLib");
            assertNotSame(NativeLib.class, a);
            Method versionA = a.getMethod("version");
            Method versionB = b.getMethod("version");
            assertEquals(expected, versionA.invoke(null));
            assertEquals(expected, versionB.invoke(null));
        }
    }
}

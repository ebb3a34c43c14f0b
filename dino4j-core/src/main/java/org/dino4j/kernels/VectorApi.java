package org.dino4j.kernels;

/**
 * The kernels are written on the JDK's incubating Vector API, which a JVM resolves only when asked to
 * ({@code --add-modules jdk.incubator.vector}). Without it the first forward dies deep inside with
 * {@code NoClassDefFoundError: jdk/incubator/vector/Vector}; {@link #require()} says so up front, with the fix.
 */
public final class VectorApi {
    private VectorApi() {}

    /**
     * Throws {@link IllegalStateException} naming the missing flag when the Vector API is not there. Looks the class
     * up by name, through the loader that will link the kernels, without loading or touching it: referring to a
     * Vector class here would itself be the {@code NoClassDefFoundError}.
     */
    public static void require() {
        try {
            Class.forName("jdk.incubator.vector.FloatVector", false, VectorApi.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("dino4j needs the JDK's Vector API: run java with --add-modules "
                    + "jdk.incubator.vector (and --enable-native-access=ALL-UNNAMED); under Maven put both in "
                    + "surefire's argLine and exec's java arguments");
        }
    }
}

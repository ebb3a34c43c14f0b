package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code dino4j} launcher's JVM flags: a copy of the script beside a stand-in jar (so nothing is built) runs a
 * stand-in {@code java} that prints the arguments it was given.
 */
class LauncherTest {
    @TempDir
    Path dir;

    /** The JVM arguments the launcher passes for these CLI arguments under this JAVA_OPTS (null: unset). */
    private List<String> jvmArgs(String javaOpts, String... cli) throws Exception {
        Path root = CliTest.fixtures().getParent(), launcher = dir.resolve("dino4j"), jdk = dir.resolve("jdk/bin/java");
        if (!Files.exists(launcher)) {
            Files.copy(root.resolve("dino4j"), launcher);
            Files.createDirectories(dir.resolve("dino4j-cli/target"));
            Files.writeString(dir.resolve("dino4j-cli/target/dino4j.jar"), "");
            Files.createDirectories(jdk.getParent());
            // answers the launcher's version probe as a JDK 25; otherwise prints its arguments, one a line
            Files.writeString(jdk, "#!/usr/bin/env bash\ncase \"$*\" in *-XshowSettings*) echo 'java.specification.version = 25' >&2; exit 0;; esac\n"
                    + "printf '%s\\n' \"$@\"\n");
            Files.setPosixFilePermissions(jdk, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        List<String> cmd = new java.util.ArrayList<>(List.of("bash", launcher.toString()));
        cmd.addAll(List.of(cli));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", dir.resolve("jdk").toString());
        if (javaOpts == null) pb.environment().remove("JAVA_OPTS");
        else pb.environment().put("JAVA_OPTS", javaOpts);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        List<String> args = out.lines().toList();
        return args.subList(0, args.indexOf("-jar"));
    }

    @Test
    void trainingModesGetThreeQuartersOfMemoryUnlessJavaOptsSetsTheHeap() throws Exception {
        for (String[] cli : new String[][] {{"train", "x"}, {"distill", "x"}, {"copy-detector", "x"}, {"bench", "--train"}}) {
            List<String> a = jvmArgs(null, cli);
            assertTrue(a.containsAll(List.of("-XX:MaxRAMPercentage=75", "-XX:+UseG1GC", "-XX:G1HeapRegionSize=2m")), String.join(" ", cli) + ": " + a);
        }
        List<String> inference = jvmArgs(null, "embed", "x");
        assertTrue(!inference.contains("-XX:MaxRAMPercentage=75") && inference.contains("-XX:+UseParallelGC"), inference.toString());
        List<String> parallel = jvmArgs("-XX:+UseParallelGC", "train", "x"); // a collector in JAVA_OPTS: no G1 flags
        assertTrue(parallel.contains("-XX:MaxRAMPercentage=75") && !parallel.contains("-XX:G1HeapRegionSize=2m"), parallel.toString());
        // a heap size in JAVA_OPTS wins: it alone is passed (the collector choice stays)
        for (String opts : List.of("-Xmx3g", "-Dx=1 -XX:MaxRAMPercentage=50", "-XX:MaxRAM=4g", "-XX:MaxHeapSize=2g")) {
            List<String> a = jvmArgs(opts, "train", "x");
            assertTrue(!a.contains("-XX:MaxRAMPercentage=75") && a.containsAll(List.of(opts.split(" "))) && a.contains("-XX:+UseG1GC"),
                    opts + ": " + a);
        }
        List<String> other = jvmArgs("-Dfoo=-Xmx", "train", "x"); // not a heap flag
        assertTrue(other.contains("-XX:MaxRAMPercentage=75"), other.toString());
    }

    /** The commands that warm up keep C1 profiling while C2 is busy (see the launcher); the others keep the default. */
    @Test
    void warmingCommandsProfileForC2WhileItIsBusyUnlessJavaOptsSaysOtherwise() throws Exception {
        for (String c : List.of("depth", "segment", "classify", "embed", "search", "pca", "match"))
            assertTrue(jvmArgs(null, c, "x").contains("-XX:Tier3DelayOn=1000"), c);
        for (String[] cli : new String[][] {{"train", "x"}, {"bench"}, {"eval", "depth"}, {"features", "x"}})
            assertTrue(jvmArgs(null, cli).stream().noneMatch(a -> a.startsWith("-XX:Tier3DelayOn")), String.join(" ", cli));
        List<String> own = jvmArgs("-XX:Tier3DelayOn=7", "depth", "x");
        assertTrue(own.contains("-XX:Tier3DelayOn=7") && !own.contains("-XX:Tier3DelayOn=1000"), own.toString());
    }
}

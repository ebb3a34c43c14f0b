package org.dino4j.cli;

import java.lang.management.ManagementFactory;

import org.dino4j.train.ssl.StepMemory;

/**
 * The heap in force against what a training command needs: checked before the first step (an error in a second rather
 * than an out-of-memory error minutes later), and named again if the JVM runs out all the same.
 */
final class HeapCheck {
    /**
     * What a training command needs.
     *
     * @param command the command ("dino4j train")
     * @param what    what needs it ("a ViT step at batch 16 (...)")
     * @param bytes   the heap it needs
     * @param detail  where that goes ("6.1 GiB (activations 3.2, ...)"), or the amount alone
     * @param smaller how to need less ("lower train.batch_size_per_gpu (now 16)")
     */
    record Need(String command, String what, long bytes, String detail, String smaller) {
        static Need of(String command, String what, StepMemory m, String smaller) {
            return new Need(command, what, m.needed(), m.breakdown(), smaller);
        }
    }

    /** The running command's need, for {@link Main}'s out-of-memory message; null before a training command sets it. */
    static volatile Need current;

    /** -Ddino4j.heap.check=false: start even when the estimate says the heap is too small. */
    static final String SKIP = "dino4j.heap.check";

    private HeapCheck() {}

    /** Records the need and fails when it is more than the max heap (unless -Ddino4j.heap.check=false). */
    static void check(Need need) {
        current = need;
        if (need.bytes() > Runtime.getRuntime().maxMemory() && !"false".equals(System.getProperty(SKIP)))
            throw new IllegalStateException(message("not enough heap", need) + " (-D" + SKIP + "=false in JAVA_OPTS starts anyway)");
    }

    /** The one-line error: the heap in force, the need, and what to do. */
    static String message(String what, Need n) {
        long gib = (long) Math.ceil(n.bytes() * 1.1 / (1L << 30)); // -Xmx counts GiB; a tenth over the estimate
        return what + ": " + heapInForce() + ", and " + n.what() + " needs about " + n.detail() + "; raise the heap with JAVA_OPTS=-Xmx"
                + gib + "g, or " + n.smaller();
    }

    /** "max heap 5.9 GiB (the JVM's default, a quarter of RAM)", or the flag that set it and whether JAVA_OPTS did. */
    static String heapInForce() {
        String flag = null;
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("-Xmx") || a.startsWith("-XX:MaxHeapSize=") || a.startsWith("-XX:MaxRAM=") || a.startsWith("-XX:MaxRAMPercentage="))
                flag = a; // the last one wins, as in the JVM
        String opts = System.getenv("JAVA_OPTS");
        String from = flag == null ? "the JVM's default: a quarter of RAM"
                : opts != null && (" " + opts + " ").contains(" " + flag + " ") ? flag + " from JAVA_OPTS"
                : flag.equals("-XX:MaxRAMPercentage=75") ? flag + ", the launcher's default for training" : flag;
        return "max heap " + StepMemory.gib(Runtime.getRuntime().maxMemory()) + " (" + from + ")";
    }
}

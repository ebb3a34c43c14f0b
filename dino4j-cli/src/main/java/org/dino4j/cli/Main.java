package org.dino4j.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code dino4j} command line. Errors print one line naming the problem (stack traces only with DINO4J_DEBUG=1). */
@Command(name = "dino4j", mixinStandardHelpOptions = true, version = "dino4j 0.1.0",
        description = "DINOv2 in pure Java: inference with the official checkpoints, embedding, training, pictures, conformance, benchmarks.",
        subcommands = {ConformanceCommand.class, FeaturesCommand.class, PreprocessCommand.class, EmbedCommand.class, SearchCommand.class, IndexCommand.class, ServeCommand.class,
                TrainCommand.class, DistillCommand.class, ExportCommand.class, EvalCommand.class, CurateCommand.class, CopyDetectorCommand.class, PcaCommand.class, MatchCommand.class, ClassifyCommand.class, DepthCommand.class, SegmentCommand.class, BenchCommand.class, ModelsCommand.class,
                DownloadCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            if (System.getenv("DINO4J_DEBUG") != null) ex.printStackTrace(err);
            err.println(cmd.getCommandSpec().qualifiedName() + ": error: " + message(ex));
            err.flush();
            return 1;
        });
        return cl;
    }

    /**
     * The one-line reason. The file-system exceptions carry only the path as their message ("runs/out"): say what
     * failed with that path.
     */
    static String message(Throwable ex) {
        if (ex instanceof UncheckedIOException u && u.getCause() != null) ex = u.getCause();
        if (ex instanceof FileSystemException f && f.getFile() != null) {
            String what = switch (f) {
                case AccessDeniedException a -> "permission denied";
                case NoSuchFileException n -> "no such file or folder";
                case NotDirectoryException n -> "not a folder";
                case DirectoryNotEmptyException d -> "a folder that is not empty is in the way";
                case FileAlreadyExistsException a -> Files.isRegularFile(Path.of(f.getFile())) ? "is a file, not a folder" : "already exists";
                default -> f.getReason() != null ? f.getReason() : "failed";
            };
            String reason = f.getReason() != null && !what.equals(f.getReason()) ? " (" + f.getReason() + ")" : "";
            return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": " + what + reason;
        }
        return ex.getMessage() == null ? ex.toString() : ex.getMessage();
    }

    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** Lucene's start-up notes (which MMapDirectory, which vector provider) are for developers: warnings only. Held here
     * because java.util.logging keeps its loggers weakly. */
    private static final java.util.logging.Logger LUCENE_LOG = java.util.logging.Logger.getLogger("org.apache.lucene");

    public static void main(String[] args) {
        if (System.getenv("DINO4J_DEBUG") == null) LUCENE_LOG.setLevel(java.util.logging.Level.WARNING);
        try {
            System.exit(run(args));
        } catch (OutOfMemoryError e) {
            HeapCheck.Need n = HeapCheck.current; // a training command's, with what its step needs
            System.err.println(n != null ? n.command() + ": error: " + HeapCheck.message("out of memory", n)
                    : "dino4j: error: out of memory: " + HeapCheck.heapInForce() + "; raise it with JAVA_OPTS=-Xmx..., or lower --batch");
            System.exit(1);
        }
    }
}

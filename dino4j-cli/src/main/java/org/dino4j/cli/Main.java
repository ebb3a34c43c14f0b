package org.dino4j.cli;

import java.io.PrintWriter;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code dino4j} command line. Errors print one line naming the problem (stack traces only with DINO4J_DEBUG=1). */
@Command(name = "dino4j", mixinStandardHelpOptions = true, version = "dino4j 0.1.0",
        description = "DINOv2 in pure Java: inference with the official checkpoints, embedding, training, pictures, conformance, benchmarks.",
        subcommands = {ConformanceCommand.class, FeaturesCommand.class, PreprocessCommand.class, EmbedCommand.class,
                TrainCommand.class, DistillCommand.class, ExportCommand.class, EvalCommand.class, CurateCommand.class, CopyDetectorCommand.class, PcaCommand.class, MatchCommand.class, BenchCommand.class, ModelsCommand.class,
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
            String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            err.println(cmd.getCommandSpec().qualifiedName() + ": error: " + msg);
            err.flush();
            return 1;
        });
        return cl;
    }

    public static int run(String... args) {
        return commandLine().execute(args);
    }

    public static void main(String[] args) {
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

package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/** Every command's --help renders cleanly and explains every option (issue 18, point 8). */
class HelpTest {
    static void walk(CommandLine cl, List<CommandLine> out) {
        out.add(cl);
        for (CommandLine sub : cl.getSubcommands().values()) if (!out.contains(sub)) walk(sub, out);
    }

    @Test
    void everyHelpRendersWithoutWarningsAndDescribesEveryOption() {
        List<CommandLine> all = new ArrayList<>();
        walk(Main.commandLine(), all);
        assertTrue(all.size() > 20, all.size() + " commands");
        List<String> missing = new ArrayList<>();
        for (CommandLine cl : all) {
            CommandSpec spec = cl.getCommandSpec();
            String name = spec.qualifiedName();
            if (spec.userObject() instanceof CommandLine.HelpCommand) continue;
            List<String> args = new ArrayList<>(List.of(name.split(" ")).subList(1, name.split(" ").length));
            args.add("--help");
            CliTest.Result r = CliTest.run(args.toArray(String[]::new));
            assertEquals(0, r.code(), name + ": " + r.err());
            assertTrue(r.out().startsWith("Usage: " + name), name + ": " + r.out());
            assertTrue(!r.out().contains("WARN") && !r.err().contains("WARN"), name + ": " + r.err());
            List<ArgSpec> opts = new ArrayList<>(spec.options());
            opts.addAll(spec.positionalParameters());
            for (ArgSpec a : opts)
                if (String.join(" ", a.description()).isBlank())
                    missing.add(name + " " + (a.isOption() ? ((CommandLine.Model.OptionSpec) a).longestName() : a.paramLabel()));
        }
        assertEquals(List.of(), missing, "options without a description");
    }

    @Test
    void everyEntryOfTheCommandListIsAWholeSentence() {
        CliTest.Result r = CliTest.run("--help");
        List<String> cut = new ArrayList<>();
        for (var e : Main.commandLine().getSubcommands().entrySet()) {
            String[] d = e.getValue().getCommandSpec().usageMessage().description();
            String first = d.length == 0 ? "" : d[0].strip();
            if (!first.endsWith(".") || first.length() > 100) cut.add(e.getKey() + ": " + first); // two lines at most
        }
        assertEquals(List.of(), cut, "top-level entries that stop mid-sentence or run long");
        assertTrue(r.out().contains("Commands:"), r.out());
    }
}

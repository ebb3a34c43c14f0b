package org.dino4j.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Tables shipped in the jar as text: one entry a line, '#' lines are comments saying where they came from. */
public final class Resources {
    private Resources() {}

    /**
     * The non-comment lines of resource {@code name} beside {@code owner}; exactly {@code expected} of them (a
     * missing or wrong table is a broken build, not bad input).
     */
    public static List<String> lines(Class<?> owner, String name, int expected) {
        String where = owner.getPackageName().replace('.', '/') + "/" + name;
        List<String> out = new ArrayList<>(expected);
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("resource " + where + " is missing from the jar");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; )
                if (!line.startsWith("#")) out.add(line);
        } catch (IOException e) {
            throw new UncheckedIOException("resource " + where + ": " + e.getMessage(), e);
        }
        if (out.size() != expected)
            throw new IllegalStateException("resource " + where + " holds " + out.size() + " entries, expected " + expected);
        return List.copyOf(out);
    }
}

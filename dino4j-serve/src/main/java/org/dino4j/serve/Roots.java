package org.dino4j.serve;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The folders server-side paths are confined to. A path given by a client (relative to the first root, or absolute)
 * is accepted only when both its normalised form and its real path (symlinks followed) lie inside one root's real
 * path: {@code ../..}, absolute paths elsewhere and symlinks leading out are refused (403).
 */
public final class Roots {
    static final Set<String> IMAGE_SUFFIXES = Set.of("jpg", "jpeg", "png", "webp", "bmp", "gif");

    private final List<Path> real;

    public Roots(List<Path> roots) {
        List<Path> r = new ArrayList<>();
        for (Path p : roots) {
            try {
                r.add(p.toRealPath());
            } catch (IOException e) {
                throw new IllegalArgumentException("--roots " + p + ": no such folder");
            }
            if (!Files.isDirectory(r.getLast())) throw new IllegalArgumentException("--roots " + p + ": not a folder");
            if (r.getLast().getFileName() == null) throw new IllegalArgumentException("--roots " + p + ": the file system's root cannot be a root here");
        }
        // with several roots an id starts with its root's folder name: two roots of one name would give two files one id
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Path p : r)
            if (r.size() > 1 && !names.add(p.getFileName().toString()))
                throw new IllegalArgumentException("--roots: two folders named '" + p.getFileName() + "' (ids would clash): give folders of different names");
        this.real = List.copyOf(r);
    }

    public List<Path> paths() {
        return real;
    }

    /** The real path of a client's path, or ApiError 403 (outside the roots) / 404 (missing) / 400 (not a path). */
    public Path resolve(String given) {
        if (real.isEmpty()) throw new ApiError(403, "server-side paths are off (start the server with --roots DIR)");
        if (given == null || given.isBlank() || given.indexOf('\0') >= 0) throw new ApiError(400, "empty or invalid path");
        Path p;
        try {
            p = Path.of(given);
        } catch (InvalidPathException e) {
            throw new ApiError(400, "invalid path '" + given + "'");
        }
        Path abs = (p.isAbsolute() ? p : real.getFirst().resolve(p)).normalize();
        if (inside(abs) == null) throw new ApiError(403, "path '" + given + "' is outside the allowed roots");
        Path r;
        try {
            r = abs.toRealPath();
        } catch (NoSuchFileException e) {
            throw new ApiError(404, "no such file or folder: '" + given + "'");
        } catch (IOException e) {
            throw new ApiError(403, "path '" + given + "' cannot be read");
        }
        if (inside(r) == null) throw new ApiError(403, "path '" + given + "' leads outside the allowed roots (symlink)");
        return r;
    }

    /** Whether a stored real path is still inside the roots (it may have become a symlink since). */
    public boolean allows(Path file) {
        try {
            return inside(file.toRealPath()) != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** The root holding an absolute normalised path, or null. */
    Path inside(Path abs) {
        for (Path root : real) if (abs.startsWith(root)) return root;
        return null;
    }

    /** The id of a file: its path relative to its root ('/' separators), prefixed by the root's name when there are several. */
    public String idOf(Path realFile) {
        Path root = inside(realFile);
        String rel = root.relativize(realFile).toString().replace('\\', '/');
        return real.size() == 1 ? rel : root.getFileName() + "/" + rel;
    }

    /** The image files under a real folder (or the file itself), sorted, at most {@code max}; symlinks out of the roots skipped. */
    public List<Path> images(Path realPath, int max) {
        if (!Files.isDirectory(realPath, LinkOption.NOFOLLOW_LINKS)) return List.of(realPath);
        try (Stream<Path> s = Files.walk(realPath)) {
            List<Path> out = s.filter(f -> isImageName(f) && Files.isRegularFile(f) && allows(f)).sorted().limit(max + 1L).toList();
            if (out.size() > max) throw new ApiError(413, "more than " + max + " images under '" + idOf(realPath) + "': add sub-folders one by one");
            return out;
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new ApiError(400, "cannot list '" + idOf(realPath) + "': " + e.getMessage());
        }
    }

    static boolean isImageName(Path f) {
        String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
        int dot = n.lastIndexOf('.');
        return dot > 0 && IMAGE_SUFFIXES.contains(n.substring(dot + 1));
    }
}

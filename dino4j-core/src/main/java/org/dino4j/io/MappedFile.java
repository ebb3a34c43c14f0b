package org.dino4j.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.BiFunction;

/** Maps a whole file read-only into a shared arena and hands it to a parser that then owns the arena. */
final class MappedFile {
    private MappedFile() {}

    /**
     * Maps {@code file} and returns {@code parse(segment, arena)}. On any failure the mapping is released and the
     * error is a {@link CheckpointException} naming the file: a corrupt file must never escape as another type.
     */
    static <T> T parse(Path file, BiFunction<MemorySegment, Arena, T> parse) {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "file not found");
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        }
        Arena arena = Arena.ofShared();
        boolean parsed = false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment all = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            T result = parse.apply(all, arena);
            parsed = true;
            return result;
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        } catch (CheckpointException e) {
            throw e;
        } catch (RuntimeException e) {
            // every claim is checked explicitly; this is only the safety net
            throw new CheckpointException(file, "corrupt file (" + e + ")", e);
        } finally {
            if (!parsed) arena.close(); // an Error too: the mapping is not left behind
        }
    }
}

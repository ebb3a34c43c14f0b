package org.dino4j.hub;

import java.net.URI;
import java.nio.file.Path;

/**
 * A file of the model zoo that {@link Downloader} fetches into {@link HubCache}: a backbone ({@link HubModel}), a
 * released head ({@link HubHead}) or a head's config ({@link HubHead.Config}).
 */
public sealed interface HubFile permits HubModel, HubHead, HubHead.Config {
    /** The name `dino4j download` takes and messages show. */
    String name();

    URI url();

    /** The file name on the server, kept in the cache (torch.hub caches it under the same name). */
    String fileName();

    /** Expected size in bytes; null when unknown. */
    Long bytes();

    /** Expected lower-case hex SHA-256; null when unknown. */
    String sha256();

    /**
     * Null when {@code file} (a complete download) is what this entry promises; otherwise a one-line reason, such
     * as "not a usable NAME checkpoint: ...". Checks structure only: size and sha256 are the downloader's.
     */
    String problem(Path file);
}

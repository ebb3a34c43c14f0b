package org.dino4j.data;

import java.io.IOException;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStreamImpl;

/**
 * An image's bytes as an {@link javax.imageio.stream.ImageInputStream} that stops a decoder which keeps reading past
 * the end. Some readers swallow {@link java.io.EOFException} and go on with zeros (TwelveMonkeys' WebP lossless bit
 * reader does, byte by byte: a 94-byte file took 17 s, found by fuzzing); after {@link #OVERREADS} reads at the end,
 * the next one throws an {@link IIOException}, which is not an EOFException, so the decoder gives up.
 */
final class BytesImageInputStream extends ImageInputStreamImpl {
    static final int OVERREADS = 4096;

    private final byte[] bytes;
    private int overreads;

    BytesImageInputStream(byte[] bytes) {
        this.bytes = bytes;
    }

    @Override
    public int read() throws IOException {
        checkClosed();
        bitOffset = 0;
        if (streamPos >= bytes.length) return atEnd();
        return bytes[(int) streamPos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        checkClosed();
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        bitOffset = 0;
        if (len == 0) return 0;
        if (streamPos >= bytes.length) return atEnd();
        int n = (int) Math.min(len, bytes.length - streamPos);
        System.arraycopy(bytes, (int) streamPos, b, off, n);
        streamPos += n;
        return n;
    }

    @Override
    public long length() {
        return bytes.length;
    }

    private int atEnd() throws IIOException {
        if (++overreads > OVERREADS) throw new IIOException("truncated: the decoder read past the end " + OVERREADS + " times");
        return -1;
    }
}

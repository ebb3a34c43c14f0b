package org.dino4j.io;

/** Element types found in safetensors and torch checkpoints. Names are safetensors' dtype strings. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    public final int size;

    DType(int size) {
        this.size = size;
    }

    /** Parses a safetensors dtype string; null when unknown. */
    public static DType fromSafetensors(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }
}

package org.dino4j.heads;

import org.dino4j.heads.Grids.Grid;

/** The decode head of a depther: one image's block grids to its depth map at the head's resolution, before clamping. */
sealed interface DepthDecoder permits LinearDepthHead, DptHead {
    /** A channels-last map: h·w values (one channel) or h·w·c. */
    record Map(int h, int w, float[] values) {}

    /** The blocks (0-based) whose outputs this head reads, in order; the head reads them without the final norm. */
    int layers();

    Map forward(Grid[] grids);
}

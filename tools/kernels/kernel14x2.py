# Writes the body of MicroKernels.kernel14x2 (14 rows x 2 vectors, fenced rows, two k steps, raw sums stored), A in
# k blocks of W2: row r's k-th value at (k / W2) * 14 * W2 + r * W2 + k % W2 (see MicroKernels.at14).
MR = 14
def step(off, ind="            "):
    o = [f"{ind}bi = bo + (p + {off}) * W2;" if off else f"{ind}bi = bo + p * W2;",
         f"{ind}b0 = FloatVector.fromArray(S, bp, bi);", f"{ind}b1 = FloatVector.fromArray(S, bp, bi + L);"]
    for r in range(MR):
        idx = " + ".join(x for x in ["ai", f"{r} * W2" if r > 1 else ("W2" if r == 1 else ""), str(off) if off else ""] if x)
        o.append(f"{ind}x = FloatVector.broadcast(S, ap[{idx}]);")
        o.append(f"{ind}c{r}_0 = x.fma(b0, c{r}_0); c{r}_1 = x.fma(b1, c{r}_1);")
        o.append(f"{ind}VarHandle.loadLoadFence();")
    return o
L = ["    static void kernel14x2(float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo) {"]
accs = [f"c{r}_{v}" for r in range(MR) for v in range(2)]
L.append("        FloatVector " + accs[0] + " = FloatVector.zero(S), " + ", ".join(a + f" = {accs[0]}" for a in accs[1:7]) + ",")
rest = accs[7:]
for i in range(0, len(rest), 7):
    L.append("                " + ", ".join(a + f" = {accs[0]}" for a in rest[i:i+7]) + ("," if i + 7 < len(rest) else ";"))
L += ["        FloatVector b0, b1, x;", "        int bi, ai, p = 0;",
      "        for (; p + 1 < kc; p += 2) { // p % 2 == 0: both steps lie in one block",
      "            ai = ao + (p >> W2_SHIFT) * (14 * W2) + (p & (W2 - 1));"]
for off in range(2): L += step(off)
L += ["        }", "        for (; p < kc; p++) {", "            ai = ao + (p >> W2_SHIFT) * (14 * W2) + (p & (W2 - 1));"]
L += step(0)
L.append("        }")
for r in range(MR):
    oo = "oo" if r == 0 else f"oo + {r} * ldo"
    L.append(f"        c{r}_0.intoArray(out, {oo}); c{r}_1.intoArray(out, {oo} + L);")
L.append("    }")
print("\n".join(L))

#!/usr/bin/env python3
"""Disassembles the C2 code HotSpot prints without hsdis (-XX:CompileCommand=print,Class::method): the hex dump of
the last 'Compiled method (c2)' section of a log, written as raw bytes and read by objdump.
Usage: tools/asm/hex2asm.py LOG [N]  (N: which c2 compile, default the last)"""
import re, subprocess, sys, tempfile
text = open(sys.argv[1]).read()
parts = re.split(r"(?=Compiled method \(c2\))", text)
c2 = [p for p in parts if p.startswith("Compiled method (c2)")]
sec = c2[int(sys.argv[2]) if len(sys.argv) > 2 else -1]
sec = re.split(r"(?=Compiled method \(c1\))|\[Stub Code\]|\[Exception Handler\]", sec)[0]
code, start = bytearray(), None
for line in sec.splitlines():
    m = re.match(r"\s*0x([0-9a-f]+): ((?:[0-9a-f]{2,8}\s*\|?\s*)+)$", line)
    if not m or not re.fullmatch(r"[0-9a-f |]+", m.group(2).strip()):
        continue
    addr = int(m.group(1), 16)
    if start is None: start = addr
    if addr - start < len(code): continue  # a repeated label line
    code.extend(b"\0" * (addr - start - len(code)))
    code.extend(bytes.fromhex(m.group(2).replace("|", "").replace(" ", "")))
with tempfile.NamedTemporaryFile(suffix=".bin") as f:
    f.write(code); f.flush()
    print(subprocess.run(["objdump", "-D", "-b", "binary", "-mi386:x86-64", f"--adjust-vma={start:#x}", f.name],
                         capture_output=True, text=True).stdout)

"""Fails (exit 1) if x86 assembly files use AVX512-FP16 instructions: vmovw,
vmovsh, and the arithmetic and conversions on half floats (*ph, *sh), but
not F16C's vcvtps2ph / vcvtph2ps, which every AVX2 CPU has; or AVX-VNNI,
the VEX encoding of the dot products ({vex} vpdpbusd on a 128- or 256-bit
vector), which a CPU with AVX512-VNNI alone (Zen 4) stops on too."""
import re
import sys

F16C = {"vcvtps2ph", "vcvtph2ps"}
found, vex = {}, {}
for path in sys.argv[1:]:
    kernel = "?"
    for line in open(path):
        if line.startswith("// kernel "):
            kernel = line.split()[2]
        if re.match(r"\s+\{vex\}\s+vpdp", line):
            vex.setdefault(kernel, set()).add(line.split()[1])
        match = re.match(r"\s+(v[a-z0-9]+)\b", line)
        if not match:
            continue
        name = match.group(1)
        if name in ("vmovw", "vmovsh") or (
                re.search(r"(ph|sh)x?$", name) and name not in F16C):
            found.setdefault(kernel, set()).add(name)
for kernel, names in sorted(found.items()):
    print(f"{kernel}: {' '.join(sorted(names))}")
print(f"{len(found)} kernels with AVX512-FP16 instructions")
for kernel, names in sorted(vex.items()):
    print(f"{kernel}: {{vex}} {' '.join(sorted(names))}")
print(f"{len(vex)} kernels with AVX-VNNI instructions")
sys.exit(1 if found or vex else 0)

"""Checks bnnc --emit=ptx output: every kernel has device code (an .entry),
and every XNOR kernel counts bits with the population-count instruction."""
import re
import sys

sections = re.split(r"^// kernel (\S+)\n", open(sys.argv[1]).read(), flags=re.M)[1:]
kernels = dict(zip(sections[0::2], sections[1::2]))
failures = [name for name, ptx in kernels.items() if ".entry" not in ptx]
xnor = [name for name in kernels if name.startswith("bnnk_xnor")]
failures += [name + " (no popc.b64)" for name in xnor if "popc.b64" not in kernels[name]]
for failure in failures:
    print("FAIL:", failure)
print(f"{len(kernels)} kernels with device code, {len(xnor)} XNOR kernels with popc.b64")
sys.exit(1 if failures or not kernels else 0)

# lit configuration for bnnc: model files (.bnn) and IR (.mlir).
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "bnnc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".bnn"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.bnn_obj_root, "test", "lit")

config.substitutions.append(("%stdlib", os.path.join(config.bnn_src_root, "stdlib")))
config.substitutions.append(("%examples", os.path.join(config.bnn_src_root, "examples")))
config.substitutions.append(("%python", config.python_executable))

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
# A sanitizer build (-DBNNC_SANITIZE): the sanitizers' options reach bnnc
# and the binaries it compiles.
if getattr(config, "bnn_sanitize", ""):
    llvm_config.with_system_environment(
        ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"])
llvm_config.use_default_substitutions()
llvm_config.add_tool_substitutions(
    ["bnnc", "bnn-opt", "bnn-reference", "not", "count"],
    [config.bnn_tools_dir, config.llvm_tools_dir])

# Hosts whose CPU runs AVX512-FP16 instructions (the kernels' host-ISA test
# is about the ones that do not).
try:
    with open("/proc/cpuinfo") as cpuinfo:
        if " avx512_fp16" in cpuinfo.read():
            config.available_features.add("avx512fp16")
except OSError:
    pass

# Data-parallel tests run compiled models under Open MPI's mpirun, which
# scripts/install-deps.sh installs: without it these tests fail (they are
# never skipped). As root mpirun needs --allow-run-as-root; --oversubscribe
# lets 4 processes share 2 cores; one OpenMP thread per process. Where the
# kernel forbids cross-memory attach (containers), vader's single-copy
# mechanism would fail: plain copies through shared memory instead.
config.substitutions.append(
    ("%mpirun", (shutil.which("mpirun") or "mpirun-is-not-installed")
     + " --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1"))
config.environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"

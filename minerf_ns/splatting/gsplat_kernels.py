"""gsplat's CUDA kernels built once and kept, instead of built on the first CUDA call of every fresh machine.

gsplat 1.4.0 (nerfstudio's pin) ships its CUDA sources and compiles them the first time it is imported on a machine
with ``nvcc`` (minutes on 16 cores). The GPU machines this project is measured on start bare and are lent for minutes,
so the kernels are built once (``build``: ``python benchmarks/gsplat_kernels.py --out DIR`` on that machine), the
library kept beside the offline wheelhouse, and later runs load it (``use_prebuilt``, called before gsplat's import)
when ``MINERF_GSPLAT_KERNELS`` names it. gsplat looks for its kernels as the module ``gsplat.csrc`` before it tries to
compile; the prebuilt library is registered under that name.
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Optional

ENVIRONMENT = "MINERF_GSPLAT_KERNELS"
"""The path of a prebuilt ``gsplat_cuda.so`` (same gsplat, torch and CUDA as where it was built)."""
NAME = "gsplat_cuda"
"""The module name gsplat's own JIT build gives its kernels (the library's init function carries it)."""


def use_prebuilt() -> Optional[Path]:
    """Register the library ``MINERF_GSPLAT_KERNELS`` names as gsplat's kernels; the path, or None where unset."""
    path = os.environ.get(ENVIRONMENT)
    if not path or "gsplat.csrc" in sys.modules:
        return None
    if not Path(path).is_file():
        raise FileNotFoundError(f"{ENVIRONMENT}={path}: no such file. Fix: build it (benchmarks/gsplat_kernels.py) "
                                "or unset the variable (gsplat then compiles its kernels itself)")  # fmt: skip
    import torch  # noqa: F401  (the library links against torch's, which must be loaded first)

    loader = importlib.machinery.ExtensionFileLoader(NAME, path)
    spec = importlib.util.spec_from_file_location(NAME, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules["gsplat.csrc"] = module
    return Path(path)


def build(out: Path, arch: str = "9.0", jobs: int = 16) -> tuple[Path, float]:
    """Compile the installed gsplat's CUDA sources for one GPU architecture (``9.0``: H100/H200) into ``out``, with
    gsplat's own flags; the library's path and the seconds it took."""
    import gsplat
    from torch.utils.cpp_extension import load

    csrc = Path(gsplat.__file__).parent / "cuda" / "csrc"
    sources = sorted(glob.glob(str(csrc / "*.cu"))) + sorted(glob.glob(str(csrc / "*.cpp")))
    os.environ["TORCH_CUDA_ARCH_LIST"] = arch
    os.environ["MAX_JOBS"] = str(jobs)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    load(name=NAME, sources=sources, extra_cflags=["-O3"], extra_cuda_cflags=["-O3", "--use_fast_math"],
         extra_include_paths=[str(csrc), str(csrc / "third_party" / "glm")], build_directory=str(out),
         verbose=False)  # fmt: skip
    return out / f"{NAME}.so", time.perf_counter() - start

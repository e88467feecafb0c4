"""Builds and loads the CPU compositor (``rasterize_cpu.cpp``) with the machine's C++ compiler, once.

``.ci/setup`` builds it (``build()``); later imports load the cached library from
torch's extension folder. Without a compiler the dense reference compositor (``compositing.py``) is used instead:
correct, but far slower.
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from types import ModuleType
from typing import Optional

SOURCE = Path(__file__).with_name("rasterize_cpu.cpp")
NAME = "minerf_rasterize_cpu"


def compile_source(source: Path, name: str) -> ModuleType:
    """Compile (or load from torch's extension cache) a compositor source as module ``name``; raises if it cannot.
    ``benchmarks/compositor_speed.py`` builds an earlier revision's source this way, beside the current one."""
    # Importing it logs that no CUDA runtime exists, which is expected on a CPU machine.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import cpp_extension

    return cpp_extension.load(
        name=name,
        sources=[str(source)],
        extra_cflags=["-O3", "-fopenmp", "-march=x86-64-v2"],
        extra_ldflags=["-fopenmp"],
        verbose=False,
    )


@functools.cache
def load() -> Optional[ModuleType]:
    """The compiled compositor, built on first use; None (with a warning) when it cannot be built."""
    try:
        return compile_source(SOURCE, NAME)
    except Exception as error:  # no compiler, no ninja, a read-only cache: fall back, say so once
        message = f"the CPU Gaussian compositor did not build ({error}); using the slow dense reference"
        warnings.warn(message, stacklevel=2)
        return None


def build() -> None:
    """Build the compositor now and say whether it worked (``.ci/setup``)."""
    built = load() is not None
    print("the CPU Gaussian compositor is " + ("built" if built else "NOT built: the slow dense reference is used"))

"""What the benchmarks that drive the real console scripts share: where the scripts are, the CPU options of every
ns-train run, the schedules of a shorter run, running a command with its failure reported, finding the run it
wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Sequence

BIN = Path(sys.executable).parent
"""The venv's console scripts."""
COMMON = ["--vis", "tensorboard", "--logging.local-writer.enable", "False", "--machine.device-type", "cpu"]
"""ns-train options of every benchmark run on this CPU."""


def schedules(iterations: int, method: str) -> List[str]:
    """ns-train options that stretch every optimizer group's decay of ``method`` over ``iterations`` (the methods'
    schedules assume 2,000, or 20,000 for the GPU's)."""
    from minerf_ns.config import METHODS

    groups = [g.replace("_", "-") for g in METHODS[method].config.optimizers]
    return [arg for g in groups for arg in (f"--optimizers.{g}.scheduler.max-steps", str(iterations))]


def checked(command: Sequence) -> float:
    """Run a command, return its wall seconds; on failure print its stderr's end and stop."""
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, command[:2]))} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def newest_config(root: Path) -> Path:
    """The config.yml of the newest run under ``root``."""
    return sorted(root.rglob("config.yml"), key=lambda p: p.stat().st_mtime)[-1]


def cached(path: Path, make: Callable[[], dict]) -> dict:
    """The JSON result kept at ``path``, or ``make()``'s, written there (a rerun reuses finished measurements)."""
    if path.is_file():
        return json.loads(path.read_text())
    result = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    return result

"""Run nerfstudio's real console scripts from the tests (the venv's bin first on PATH, so ffmpeg is found)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, List, Sequence, TypeVar

T = TypeVar("T")

BIN = Path(sys.executable).parent
MACHINE = ["--machine.device-type", "cpu", "--logging.local-writer.enable", "False"]
CPU = MACHINE + ["--pipeline.datamanager.train-num-rays-per-batch", "128"]
SMALL_SAMPLES = ["--pipeline.model.geometry.num-coarse-samples", "12",
                 "--pipeline.model.geometry.num-importance-samples", "12"]  # fmt: skip
FAST = CPU + SMALL_SAMPLES
"""ns-train options for a quick CPU run of mi-nerf-small."""
EXPRESSION_DIM = 53  # ICT-FaceKit expression blendshapes
TRAIN_FRAMES = 2 * 27  # 2 videos x 30 frames, 10% held out
IDENTITY_CODES = "_model.conditioning.codes.identity.weight"
LATENT_CODES = "_model.conditioning.codes.latent.weight"
INTERACTION = "_model.conditioning.interaction."
PLANES = "_model.geometry.field.grid.planes.{}"
"""Checkpoint keys (tri-plane level k: PLANES.format(k))."""


def together(calls: Sequence[Callable[[], T]]) -> List[T]:
    """Run independent console-script calls two at a time, results in order: each call is mostly a single-threaded
    Python start-up (torch, nerfstudio), so this 2-core machine runs two in the time of one."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: call(), calls))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def fails(*args: str, cwd: Path) -> str:
    """Run a console script that must stop cleanly (exit 1, no traceback); return its stderr."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc.stderr


def fail_line(*args: str, cwd: Path) -> str:
    """``fails``, returning the last line, which must start with the command's name (and subcommand, if any)."""
    stderr = fails(*args, cwd=cwd)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith((f"{args[0]}: ", f"{args[0]} {args[1]}: ")), stderr[-1000:]
    return lines[-1]


def train(data: Path, out: Path, *extra: str, iterations: int = 4, method: str = "mi-nerf-small") -> Path:
    """Run ns-train and return the run folder (holding config.yml and nerfstudio_models/)."""
    save_every = str(max(2, iterations // 2))
    args = [
        "--data",
        str(data),
        "--output-dir",
        str(out),
        "--vis",
        "tensorboard",
        "--max-num-iterations",
        str(iterations),
    ]
    samples = SMALL_SAMPLES if method == "mi-nerf-small" else []
    machine = MACHINE if method == "mi-gaussians" else CPU  # whole frames: no ray batch to size
    run("ns-train", method, *args, "--steps-per-save", save_every, *machine, *samples, *extra, cwd=out.parent)
    configs = sorted(out.rglob("config.yml"), key=lambda p: p.stat().st_mtime)
    assert configs, f"ns-train wrote no config.yml under {out}"
    return configs[-1].parent

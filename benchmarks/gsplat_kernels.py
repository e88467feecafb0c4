"""Build gsplat's CUDA kernels once on a GPU machine and check that a fresh process loads them without compiling
(issue 28 item 5: the GPU machine has nvcc and ninja but no network and a few minutes; ``minerf_ns/splatting/
gsplat_kernels.py`` says how the library is found). Prints the build's seconds, the library's size, and a check render.

    python benchmarks/gsplat_kernels.py --out $OUT            (on the GPU machine: $OUT/gsplat_cuda.so comes back;
                                                              keep it in .whl/ beside the wheelhouse)
    MINERF_GSPLAT_KERNELS=.whl/gsplat_cuda.so python benchmarks/gpu.py ...   (a later session: no compile)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from minerf_ns.splatting.gsplat_kernels import ENVIRONMENT, build

CHECK = """
import time, torch
start = time.perf_counter()
from minerf_ns.splatting.gsplat_kernels import use_prebuilt
from minerf_ns.splatting.render import render_gaussians
g = torch.Generator().manual_seed(0)
n = 1000
means = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([1.0, 1.0, 0.2]) + torch.tensor([0.0, 0.0, 3.0])
quats = torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1)
scales, opacities, colors = torch.full((n, 3), 0.02), torch.full((n,), 0.8), torch.rand(n, 3, generator=g)
K = torch.tensor([[200.0, 0, 128], [0, 200.0, 128], [0, 0, 1]])
args = [t.cuda() for t in (means, quats, scales, opacities, colors, torch.eye(4), K)]
image, alpha = render_gaussians(*args, 256, 256)
cpu, cpu_alpha = render_gaussians(means, quats, scales, opacities, colors, torch.eye(4), K, 256, 256)
print(f"loaded and rendered in {time.perf_counter() - start:.1f} s; gsplat vs our CPU compositor: max |diff| "
      f"{(image.cpu() - cpu).abs().max():.2e} colour, {(alpha.cpu() - cpu_alpha).abs().max():.2e} alpha")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where gsplat_cuda.so is written")
    parser.add_argument("--arch", default="9.0", help="TORCH_CUDA_ARCH_LIST (9.0: H100, H200)")
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("nvcc") is None:
        sys.exit("gsplat_kernels: no nvcc on PATH: build on the GPU machine (nothing written)")
    build_dir = args.out / "build"
    library, seconds = build(build_dir, args.arch, args.jobs)
    kept = args.out / library.name
    shutil.copy2(library, kept)
    shutil.rmtree(build_dir)  # the objects stay behind: only the library comes back
    print(f"built {kept} ({kept.stat().st_size / 2**20:.1f} MiB) in {seconds:.0f} s, arch {args.arch}", flush=True)
    start = time.perf_counter()
    env = {**os.environ, ENVIRONMENT: str(kept.resolve()), "TORCH_EXTENSIONS_DIR": str(args.out / "empty")}
    proc = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True)
    print(proc.stdout.strip() or proc.stderr[-2000:], f"(a fresh process, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()

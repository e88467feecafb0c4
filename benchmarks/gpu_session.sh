#!/usr/bin/env bash
# One GPU session of this project in one command (issues 18 and 28): the offline wheelhouse, gsplat's CUDA kernels
# (prebuilt in .whl/gsplat_cuda.so by an earlier session, or built now and returned in $OUT), then benchmarks/gpu.py.
#   here, once:  bash ../shared/gpu/make-wheelhouse.sh .whl     (.whl/ is git-ignored; carry it)
#   there:       STEPS="1 5 6" bash benchmarks/gpu_session.sh    (all steps by default; gpu.py's table in $OUT/gpu.txt)
#   afterwards:  copy $OUT's gsplat_cuda.so into .whl/ so the next session skips the build
#   dry run here (no GPU): DRY=1 bash benchmarks/gpu_session.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpuout}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -z "${DRY:-}" ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH
  if [ -f .whl/gsplat_cuda.so ]; then
    export MINERF_GSPLAT_KERNELS=$PWD/.whl/gsplat_cuda.so
  elif timeout "${BUILD_TIMEOUT:-420}" python3 benchmarks/gsplat_kernels.py --out "$OUT"; then
    export MINERF_GSPLAT_KERNELS=$OUT/gsplat_cuda.so
  fi
  timeout "${BENCH_TIMEOUT:-480}" python3 benchmarks/gpu.py --work /tmp/gpubench --steps ${STEPS:-1 2 3 4 5 6} 2>&1 \
    | tee "$OUT/gpu.txt"
else  # no kernel build here: a CUDA compile on 2 cores takes many minutes and most of the memory
  python3 benchmarks/gsplat_kernels.py --help | head -1
  python3 benchmarks/gpu.py --work "$OUT/gpubench" --device cpu --tiny --steps ${STEPS:-6} 2>&1 | tail -12
fi

"""Time `minerf-synth` (4 identities x 100 frames at 128 px by default) and report the dataset size.

python benchmarks/synth_speed.py [--num-identities 4 --num-frames 100 --image-size 128]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from minerf_ns.synthetic.dataset_writer import SynthSettings, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-identities", type=int, default=4)
    parser.add_argument("--num-frames", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    settings = SynthSettings(args.num_identities, args.num_frames, args.image_size, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        for transfer in (False, True):
            out = Path(tmp) / f"t{int(transfer)}"
            start = time.perf_counter()
            generate(out, settings, with_transfer=transfer)
            seconds = time.perf_counter() - start
            files = [p for p in out.rglob("*") if p.is_file()]
            frames = args.num_identities * args.num_frames * (args.num_identities if transfer else 1)
            print(
                f"identities={args.num_identities} frames={args.num_frames} size={args.image_size} "
                f"transfer={transfer} cores={os.cpu_count()} rendered_frames={frames} seconds={seconds:.1f} "
                f"frames_per_s={frames / seconds:.1f} files={len(files)} "
                f"megabytes={sum(p.stat().st_size for p in files) / 1e6:.1f}"
            )


if __name__ == "__main__":
    main()

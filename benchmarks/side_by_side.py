"""A side-by-side mp4 of a driving sentence and a trained identity saying it (not committed: a look, not a number).

    python benchmarks/side_by_side.py --load-config RUN/config.yml --identity NAME --sentence CLIP.mp4 \\
        --mapping MAPPING.pt --output side.mp4

Runs ``minerf-render speak`` on the clip's sound with the given mapping (a mapping fitted on GRID drives any identity
with the same basis), then puts the clip (left, scaled to the render's height) beside the render (right), with the
clip's sound.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-config", type=Path, required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--sentence", type=Path, required=True, help="a video with sound (e.g. a held-out GRID clip)")
    parser.add_argument("--mapping", default="auto", help="minerf-render speak --mapping")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        render = Path(tmp) / "render.mp4"
        speak = Path(sys.executable).parent / "minerf-render"
        subprocess.run([str(speak), "speak", "--load-config", str(args.load_config), "--identity", args.identity,
                        "--audio", str(args.sentence), "--mapping", args.mapping, "--output-path", str(render)],
                       check=True)  # fmt: skip
        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        stack = "[0:v]scale=-2:256[a];[1:v]scale=-2:256[b];[a][b]hstack=inputs=2[v]"
        subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(args.sentence), "-i", str(render),
                        "-filter_complex", stack, "-map", "[v]", "-map", "0:a", "-shortest", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", str(args.output)], check=True)  # fmt: skip
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

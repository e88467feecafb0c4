"""The adversarial pass of issue 17: unusual inputs and failures across ns-train, ns-eval, ns-render and every
``minerf-*`` command, each run as a user would, classified by what the user sees. Prints a markdown table.

Each case runs in a fresh copy of a tiny synthetic dataset and a tiny trained run. Outcome classes:
``one line`` (exit status 1, the last stderr line names the tool, no traceback), ``ok`` (exit 0 and its outputs
exist), ``interrupted`` (Ctrl-C: exit 130 in one line), ``TRACEBACK``, ``FALSE SUCCESS`` (exit 0 without its
outputs), ``CHANGED`` (a failing command changed a file it was not asked to write).

    python benchmarks/robustness.py --work /tmp/robust [--set issue17|newer|all] [--only NAME ...] [--label after]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

sys.path.insert(0, str(Path(__file__).parent))
from robustness_newer import cases as newer_cases  # noqa: E402
from robustness_newer import make_sounds  # noqa: E402

BIN = Path(sys.executable).parent
CPU = ["--machine.device-type", "cpu", "--vis", "tensorboard", "--logging.local-writer.enable", "False"]


@dataclass
class Case:
    name: str
    command: Callable[[Path], List[str]]
    """The command line, given the case's folder (holding ``data/`` and ``run/``)."""
    setup: Callable[[Path], None] = lambda case: None
    outputs: Callable[[Path], List[Path]] = lambda case: []
    """What a successful run must have written."""
    interrupt_after: Optional[float] = None
    """Send Ctrl-C this many seconds after the command started (None: let it finish)."""
    notes: str = ""
    expect: str = ""
    """What the failure's line must say (a stop is expected): another line is MISLEADING, exit 0 FALSE SUCCESS."""
    succeeds: bool = False
    """The command must succeed: a one-line stop is REFUSED (a valid input turned away)."""
    background: Optional[Callable[[Path], List[str]]] = None
    """A command started ``BACKGROUND_START`` seconds before this one and stopped (Ctrl-C) after it."""


BACKGROUND_START = 20.0
"""Seconds a background command runs before the case's command starts (nerfstudio loaded, its output begun)."""


@dataclass
class Result:
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def tree(root: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def config(case: Path) -> str:
    return str(next((case / "run").rglob("config.yml")))


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def set_params(path: Path, **entries) -> None:
    import torch

    params = torch.load(path, weights_only=True)
    params.update(entries)
    torch.save(params, path)


def train(data: Path, out: Path, iterations: int = 4) -> None:
    subprocess.run([str(BIN / "ns-train"), "mi-nerf-fast", "--data", str(data), "--output-dir", str(out),
                    "--max-num-iterations", str(iterations), "--pipeline.datamanager.train-num-rays-per-batch", "64",
                    *CPU], check=True, capture_output=True)  # fmt: skip


def _ctrl_c_as_at_a_terminal() -> None:
    """In the command's process: Ctrl-C (SIGINT) handled as in a terminal, even when this harness runs in the
    background of a shell (which makes its children ignore SIGINT, and Python then installs no handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_case(case: Case, folder: Path) -> Result:
    case.setup(folder)
    before = tree(folder)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONWARNINGS": "ignore"}
    command = case.command(folder)
    other = None
    if case.background is not None:
        first = case.background(folder)
        other = subprocess.Popen([str(BIN / first[0]), *first[1:]], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, preexec_fn=_ctrl_c_as_at_a_terminal)  # fmt: skip
        time.sleep(BACKGROUND_START)
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / command[0]), *command[1:]], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_at_a_terminal)  # fmt: skip
    if case.interrupt_after is not None:
        time.sleep(case.interrupt_after)
        proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=600)
        seconds = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        proc.kill()
        return Result("TIMEOUT", seconds=600.0)
    finally:
        if other is not None:
            other.send_signal(signal.SIGINT)
            try:
                other.wait(timeout=60)
            except subprocess.TimeoutExpired:
                other.kill()
    lines = [line.replace(str(folder), "<case>") for line in stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    after = tree(folder)
    changed = [p for p, stat in before.items() if after.get(p) != stat]
    tool = command[0] if command[0].startswith("ns-") else command[0]
    if "Traceback" in stderr:
        return Result("TRACEBACK", last[:150], seconds)
    if proc.returncode == 130:
        return Result("interrupted", last[:150], seconds)
    if proc.returncode == 0 and case.expect:
        return Result("FALSE SUCCESS", f"exit 0; a line saying {case.expect!r} was expected", seconds)
    if proc.returncode == 0:
        missing = [str(p.relative_to(folder)) for p in case.outputs(folder)
                   if not p.exists() or (p.is_file() and p.stat().st_size == 0)]  # fmt: skip
        if missing:
            return Result("FALSE SUCCESS", f"exit 0, missing or empty: {missing}", seconds)
        return Result("ok", f"{len(after) - len(before)} files written", seconds)
    if changed:
        return Result("CHANGED", f"{len(changed)} existing files changed; {last[:100]}", seconds)
    if len(lines) and (last.startswith(tool) or ": " in last) and "Error" not in last.split(":")[0]:
        if case.succeeds:
            return Result("REFUSED", last[:150], seconds)
        if case.expect and case.expect not in last:
            return Result("MISLEADING", f"{last[:150]} (expected: {case.expect!r})", seconds)
        return Result("one line", last[:150], seconds)
    return Result(f"exit {proc.returncode}", last[:150], seconds)


def cases() -> List[Case]:
    d = lambda c: c / "data"  # noqa: E731
    train_cmd = lambda c, *extra: ["ns-train", "mi-nerf-fast", "--data", str(d(c)), "--output-dir",  # noqa: E731
                                   str(c / "out"), "--max-num-iterations", "2", *CPU, *extra]  # fmt: skip
    out_ckpt = lambda c: [next(iter((c / "out").rglob("*.ckpt")), c / "out/none.ckpt")]  # noqa: E731
    render = lambda c, *extra: ["minerf-render", "transfer", "--load-config", config(c), "--identity", "ada",  # noqa
                                "--expressions-from", "ben", "--max-frames", "2", *extra]  # fmt: skip
    ada = lambda c: d(c) / "ada"  # noqa: E731
    return [
        # ns-train: the dataset (beyond the README's list of checked inputs)
        Case("--data is a file", lambda c: train_cmd(c)[:3] + [str(ada(c) / "bc.jpg")] + train_cmd(c)[4:]),
        Case(
            "root holds only _ground_truth",
            train_cmd,
            lambda c: [shutil.rmtree(p) for p in d(c).iterdir() if p.name != "_ground_truth"],
        ),  # fmt: skip
        Case("no track_params.pt", train_cmd, lambda c: (ada(c) / "track_params.pt").unlink()),
        Case(
            "track_params.pt is a bare tensor",
            train_cmd,
            lambda c: __import__("torch").save(__import__("torch").zeros(10, 53), ada(c) / "track_params.pt"),
        ),
        Case(
            "'exp' is 1-D",
            train_cmd,
            lambda c: set_params(ada(c) / "track_params.pt", exp=__import__("torch").zeros(530)),
        ),
        Case(
            "img_id negative",
            train_cmd,
            lambda c: edit_json(ada(c) / "transforms_train.json", lambda m: m["frames"][0].update(img_id=-3)),
        ),
        Case(
            "img_id a float",
            train_cmd,
            lambda c: edit_json(ada(c) / "transforms_train.json", lambda m: m["frames"][0].update(img_id=1.5)),
        ),
        Case(
            "an img_id in train and val",
            train_cmd,
            lambda c: edit_json(ada(c) / "transforms_val.json", lambda m: m["frames"][0].update(img_id=0)),
        ),
        Case(
            "'frames' not a list",
            train_cmd,
            lambda c: edit_json(ada(c) / "transforms_val.json", lambda m: m.update(frames={"a": 1})),
        ),
        Case(
            "matrix of strings",
            train_cmd,
            lambda c: edit_json(
                ada(c) / "transforms_train.json", lambda m: m["frames"][1].update(transform_matrix=[["a"] * 4] * 4)
            ),
        ),
        Case(
            "bc.jpg of another size",
            train_cmd,
            lambda c: __import__("PIL.Image").Image.new("RGB", (40, 40)).save(ada(c) / "bc.jpg"),
        ),
        Case("bc.jpg corrupt", train_cmd, lambda c: (ada(c) / "bc.jpg").write_bytes(b"\xff\xd8 broken")),
        Case(
            "parsing image corrupt (head box falls back)",
            train_cmd,
            lambda c: (ada(c) / "parsing/0.png").write_bytes(b"broken"),
            out_ckpt,
        ),
        Case(
            "no focal_len",
            train_cmd,
            lambda c: edit_json(ada(c) / "transforms_train.json", lambda m: m.pop("focal_len")),
        ),
        Case("transforms is a JSON list", train_cmd, lambda c: (ada(c) / "transforms_train.json").write_text("[]")),
        Case("transforms is 0 bytes", train_cmd, lambda c: (ada(c) / "transforms_train.json").write_text("")),
        Case(
            "a frame is a folder",
            train_cmd,
            lambda c: [(ada(c) / "head_imgs/3.jpg").unlink(), (ada(c) / "head_imgs/3.jpg").mkdir()],
        ),
        Case(
            "native: file_path a number",
            train_cmd,
            lambda c: native(ada(c), lambda m: m["frames"][0].update(file_path=7)),
        ),
        Case(
            "native: NaN in an expression",
            train_cmd,
            lambda c: native(ada(c), lambda m: m["frames"][3]["expression"].__setitem__(0, float("nan"))),
        ),
        Case(
            "native: mask file missing",
            train_cmd,
            lambda c: native(ada(c), lambda m: m["frames"][0].update(mask_path="masks/none.png")),
        ),
        Case(
            "native: identity_name of another video",
            train_cmd,
            lambda c: native(ada(c), lambda m: m.update(identity_name="ben")),
        ),
        Case("native: no frames", train_cmd, lambda c: native(ada(c), lambda m: m.update(frames=[]))),
        # ns-train: options and outputs
        Case("--max-num-iterations 0", lambda c: train_cmd(c)[: -len(CPU) - 1] + ["0", *CPU]),
        Case(
            "--pipeline.model.latent-dim 0 (no latent codes)",
            lambda c: train_cmd(c, "--pipeline.model.latent-dim", "0"),
            outputs=out_ckpt,
        ),
        Case("--output-dir under a file", lambda c: train_cmd(c)[:5] + [str(ada(c) / "bc.jpg/out")] + train_cmd(c)[6:]),
        Case("unknown interaction module", lambda c: train_cmd(c, "--pipeline.model.interaction", "cubic")),
        Case(
            "Ctrl-C during ns-train", lambda c: train_cmd(c)[: -len(CPU) - 1] + ["100000", *CPU], interrupt_after=25.0
        ),
        # ns-eval / ns-render on a trained run
        Case("ns-eval: config.yml missing", lambda c: ["ns-eval", "--load-config", str(c / "nope.yml")]),
        Case(
            "ns-eval: config.yml corrupt",
            lambda c: ["ns-eval", "--load-config", config(c)],
            lambda c: Path(config(c)).write_text("{ not: yaml: ["),
        ),
        Case(
            "ns-eval: checkpoint deleted",
            lambda c: ["ns-eval", "--load-config", config(c)],
            lambda c: [p.unlink() for p in (c / "run").rglob("*.ckpt")],
        ),
        Case(
            "ns-eval: checkpoint truncated",
            lambda c: ["ns-eval", "--load-config", config(c)],
            lambda c: [p.write_bytes(p.read_bytes()[:1000]) for p in (c / "run").rglob("*.ckpt")],
        ),
        Case(
            "ns-eval: a video added to the root",
            lambda c: ["ns-eval", "--load-config", config(c), "--output-path", str(c / "e.json")],
            lambda c: shutil.copytree(ada(c), d(c) / "dan"),
            lambda c: [c / "e.json"],
        ),
        Case(
            "ns-render: camera path file missing",
            lambda c: [
                "ns-render",
                "camera-path",
                "--load-config",
                config(c),
                "--camera-path-filename",
                str(c / "none.json"),
            ],
        ),
        Case(
            "ns-render: output under a file",
            lambda c: ["ns-render", "dataset", "--load-config", config(c), "--output-path", str(ada(c) / "bc.jpg/r")],
        ),
        Case(
            "ns-render: --camera-idx beyond the train frames",
            lambda c: [
                "ns-render",
                "spiral",
                "--load-config",
                config(c),
                "--camera-idx",
                "100000",
                "--output-path",
                str(c / "s"),
                "--output-format",
                "images",
                "--seconds",
                "1",
                "--frame-rate",
                "2",
            ],
            outputs=lambda c: [c / "s"],
        ),
        # minerf-render transfer
        Case(
            "transfer: --max-frames 0",
            lambda c: render(c, "--output-path", str(c / "t.mp4"), "--max-frames", "0"),
            outputs=lambda c: [c / "t.mp4"],
        ),
        Case(
            "transfer: --fps 0",
            lambda c: render(c, "--output-path", str(c / "t.mp4"), "--fps", "0"),
            outputs=lambda c: [c / "t.mp4"],
        ),
        Case("transfer: output is a folder", lambda c: render(c, "--output-path", str(d(c)))),
        Case(
            "transfer: .npy of strings",
            lambda c: render(c)[:6] + ["--expressions", str(c / "s.npy"), "--output-path", str(c / "t.mp4")],
            lambda c: __import__("numpy").save(c / "s.npy", __import__("numpy").array([["a"] * 53])),
        ),
        Case(
            "transfer: Ctrl-C while rendering",
            lambda c: render(c)[:6] + ["--expressions", str(c / "long.npy"), "--output-path", str(c / "t.mp4")],
            lambda c: __import__("numpy").save(c / "long.npy", __import__("numpy").zeros((5000, 53), "float32")),
            interrupt_after=12.0,
        ),
        # minerf-eval, minerf-personalize
        Case(
            "eval transfer: not a synthetic dataset",
            lambda c: ["minerf-eval", "transfer", "--load-config", config(c), "--output-dir", str(c / "ev")],
            lambda c: shutil.rmtree(d(c) / "_ground_truth"),
        ),
        Case(
            "eval heldout: output under a file",
            lambda c: ["minerf-eval", "heldout", "--load-config", config(c), "--output-dir", str(ada(c) / "bc.jpg/ev")],
        ),
        Case(
            "personalize: --data an empty folder",
            lambda c: [
                "minerf-personalize",
                "--load-config",
                config(c),
                "--data",
                str(c / "empty"),
                "--output-dir",
                str(c / "p"),
            ],
            lambda c: (c / "empty").mkdir(),
        ),
        Case(
            "personalize: --iterations 0",
            lambda c: [
                "minerf-personalize",
                "--load-config",
                config(c),
                "--iterations",
                "0",
                "--output-dir",
                str(c / "p"),
            ],
        ),
        Case(
            "personalize: Ctrl-C",
            lambda c: [
                "minerf-personalize",
                "--load-config",
                config(c),
                "--iterations",
                "100000",
                "--output-dir",
                str(c / "p"),
            ],
            interrupt_after=20.0,
        ),
        # minerf-synth, minerf-demo, minerf-track
        Case("synth: --image-size 8", lambda c: ["minerf-synth", str(c / "s"), "--image-size", "8"]),
        Case("synth: output is a file", lambda c: ["minerf-synth", str(ada(c) / "bc.jpg")]),
        Case(
            "synth: Ctrl-C",
            lambda c: ["minerf-synth", str(c / "s"), "--num-frames", "400", "--image-size", "256"],
            interrupt_after=8.0,
        ),
        Case("demo: --out under a file", lambda c: ["minerf-demo", "--out", str(ada(c) / "bc.jpg/demo")]),
        Case("demo: --iterations 0", lambda c: ["minerf-demo", "--out", str(c / "demo"), "--iterations", "0"]),
        Case(
            "track: a text file named .mp4",
            lambda c: ["minerf-track", str(c / "x.mp4"), "--output", str(c / "t")],
            lambda c: (c / "x.mp4").write_text("not a video"),
        ),
        Case(
            "track: --size 16",
            lambda c: ["minerf-track", str(ada(c) / "head_imgs"), "--output", str(c / "t"), "--size", "16"],
        ),
        Case(
            "track: a name with a slash",
            lambda c: ["minerf-track", str(ada(c) / "head_imgs"), "--output", str(c / "t"), "--names", "a/b"],
        ),
        Case(
            "track: --max-frames 1",
            lambda c: ["minerf-track", str(ada(c) / "head_imgs"), "--output", str(c / "t"), "--max-frames", "1"],
        ),
        Case(
            "track: output under a file",
            lambda c: ["minerf-track", str(ada(c) / "head_imgs"), "--output", str(ada(c) / "bc.jpg/t")],
        ),
    ]


def small_disk(case: Path, read_only: bool = False) -> Path:
    """A 2 MB tmpfs at ``case/disk``, filled up (or mounted read-only); needs root and mount."""
    disk = case / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    else:
        (disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024))  # every block used
    return disk


def can_mount() -> bool:
    probe = Path("/tmp/.minerf-mount-probe")
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True)
    if ok.returncode == 0:
        subprocess.run(["umount", str(probe)])
    return ok.returncode == 0


def disk_cases() -> List[Case]:
    """Full and read-only output disks (tmpfs mounts)."""
    render = lambda c, out: ["minerf-render", "transfer", "--load-config", config(c), "--identity", "ada",  # noqa
                             "--expressions-from", "ben", "--max-frames", "40", "--output-path", out]  # fmt: skip
    train = lambda c, out: ["ns-train", "mi-nerf-fast", "--data", str(c / "data"), "--output-dir", out,  # noqa: E731
                            "--max-num-iterations", "2", *CPU]  # fmt: skip
    track = lambda c, out: ["minerf-track", str(c / "data/ada/head_imgs"), "--output", out]  # noqa: E731
    return [
        Case("disk full: transfer video", lambda c: render(c, str(c / "disk/t.mp4")), lambda c: small_disk(c),
             outputs=lambda c: [c / "disk/t.mp4"]),
        Case("read-only disk: transfer video", lambda c: render(c, str(c / "disk/t.mp4")),
             lambda c: small_disk(c, True), outputs=lambda c: [c / "disk/t.mp4"]),
        Case("disk full: ns-train output", lambda c: train(c, str(c / "disk/out")), lambda c: small_disk(c)),
        Case("read-only disk: ns-train output", lambda c: train(c, str(c / "disk/out")), lambda c: small_disk(c, True)),
        Case("disk full: minerf-track output", lambda c: track(c, str(c / "disk/t")), lambda c: small_disk(c)),
        Case("read-only disk: minerf-synth output", lambda c: ["minerf-synth", str(c / "disk/s"), "--num-frames", "4",
                                                               "--image-size", "32"], lambda c: small_disk(c, True)),
    ]  # fmt: skip


def native(video: Path, change: Callable[[dict], object] = lambda m: None) -> None:
    """Rewrite an AD-NeRF synthetic video as the native layout, then apply ``change`` to its transforms.json."""
    import torch

    meta = json.loads((video / "transforms_train.json").read_text())
    frames = meta["frames"] + json.loads((video / "transforms_val.json").read_text())["frames"]
    exp = torch.load(video / "track_params.pt", weights_only=True)["exp"]
    native_meta = {"fl_x": meta["focal_len"], "cx": meta["cx"], "cy": meta["cy"], "background": "bc.jpg",
                   "frames": [{"file_path": f"head_imgs/{f['img_id']}.jpg", "transform_matrix": f["transform_matrix"],
                               "expression": exp[f["img_id"]].tolist()} for f in frames]}  # fmt: skip
    change(native_meta)
    (video / "transforms.json").write_text(json.dumps(native_meta))
    for name in ("transforms_train.json", "transforms_val.json", "track_params.pt"):
        (video / name).unlink()


def repoint(config_path: Path, folder: Path) -> None:
    """Make a copied run's config use the copy's dataset and checkpoints."""
    import yaml

    cfg = yaml.load(config_path.read_text(), Loader=yaml.UnsafeLoader)
    cfg.data = cfg.pipeline.datamanager.data = cfg.pipeline.datamanager.dataparser.data = folder / "data"
    cfg.output_dir = folder / "run"
    config_path.write_text(yaml.dump(cfg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--label", default="result")
    parser.add_argument(
        "--set",
        choices=["issue17", "newer", "all"],
        default="all",
        help="issue 17's 61 cases, issue 30's newer ones (robustness_newer.py), or both",
    )
    args = parser.parse_args()
    fixture = args.work / "fixture"
    if not (fixture / "run").exists():
        shutil.rmtree(fixture, ignore_errors=True)
        fixture.mkdir(parents=True)
        subprocess.run([str(BIN / "minerf-synth"), str(fixture / "data"), "--num-identities", "2", "--num-frames",
                        "10", "--image-size", "32", "--workers", "1"], check=True, capture_output=True)  # fmt: skip
        train(fixture / "data", fixture / "run")
    if not (fixture / "sound").exists():
        make_sounds(fixture)
    chosen = []
    if args.set in ("issue17", "all"):
        chosen += cases() + (disk_cases() if can_mount() else [])
    if args.set in ("newer", "all"):
        chosen += newer_cases(Case, config, CPU)
    rows = []
    for case in chosen:
        if args.only and case.name not in args.only:
            continue
        folder = args.work / "cases" / case.name.replace("/", "_").replace(" ", "_")
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(fixture, folder)
        repoint(Path(config(folder)), folder)  # the run's config points at the fixture: at this copy instead
        result = run_case(case, folder)
        rows.append((case.name, result))
        print(f"{case.name}: {result.outcome} ({result.seconds:.0f} s) {result.detail}", flush=True)
        if (folder / "disk").is_mount():
            subprocess.run(["umount", str(folder / "disk")])
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n| case | {args.label} |\n|---|---|")
    for name, result in rows:
        print(f"| {name} | {result.outcome}: {result.detail.replace('|', '/')} |")


if __name__ == "__main__":
    main()

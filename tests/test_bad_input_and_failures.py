"""Issue 17: the promise under bad input and failures, one test per class of failure (through the console scripts
where the class is about them): no traceback, no false success, nothing the user had changed or lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from nerfstudio_cli import BIN, CPU, fail_line, fails, run, together
from PIL import Image
from test_dataparser import copy_videos, parse, to_native

from dataparsers.dataset_error import DatasetError
from dataparsers.dataset_scan import read_dataset


def tree(root: Path) -> dict:
    """Every file under ``root`` with its size and modification time (to prove nothing changed)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def last_line(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.strip()][-1]


def moved_run(run_dir: Path, data: Path, outputs: Path) -> Path:
    """A copy of a trained run under ``outputs`` (experiment/method/timestamp kept) whose config points at ``data``."""
    to = outputs.joinpath(*run_dir.parts[-3:])
    shutil.copytree(run_dir, to)
    config = yaml.load((to / "config.yml").read_text(), Loader=yaml.UnsafeLoader)
    config.data = config.pipeline.datamanager.data = config.pipeline.datamanager.dataparser.data = data
    config.output_dir = outputs
    (to / "config.yml").write_text(yaml.dump(config))
    return to


# 2. False success: every writer checks what it wrote, before and after.
@pytest.mark.parametrize("where", ["a folder", "under a file", "no suffix", "frames under a file"])
def test_render_transfer_refuses_outputs_it_cannot_write(trained_two_of_three, tmp_path, where):
    (tmp_path / "afolder").mkdir()
    (tmp_path / "afile").write_text("keep")
    cases = {"a folder": ("afolder", "video", "is a folder"), "under a file": ("afile/x.mp4", "video", "not a folder"),
             "no suffix": ("video", "video", "not no suffix"), "frames under a file": ("afile/x.mp4", "images",
             "not a folder")}  # fmt: skip
    output, fmt, says = cases[where]
    before = tree(tmp_path)
    stderr = fails("minerf-render", "transfer", "--load-config", str(trained_two_of_three / "config.yml"),
                   "--identity", "ada", "--expressions-from", "ben", "--output-path", str(tmp_path / output),
                   "--output-format", fmt, "--max-frames", "2", cwd=tmp_path)  # fmt: skip
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("minerf-render transfer: ") and says in line and "(nothing written)" in line
    assert tree(tmp_path) == before


# 3. + 4. Intrinsics of the native layout, and images checked by decoding before ns-train writes anything.
@pytest.mark.parametrize(("edit", "says"), [({"w": 0}, "'w' is 0 but the images are 64 pixels"),
                                            ({"h": -5}, "'h' is -5 but the images are 64 pixels"),
                                            ({"w": 80}, "'w' is 80 but the images are 64 pixels"),
                                            ({"fl_x": "nan"}, "'fl_x' is 'nan', not a finite number")])  # fmt: skip
def test_native_intrinsics_are_checked(synth_dataset, tmp_path, edit, says):
    data = copy_videos(synth_dataset[0], tmp_path / "data")
    to_native(data / "ada")
    meta = json.loads((data / "ada/transforms.json").read_text())
    meta.update(edit)
    (data / "ada/transforms.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError) as info:
        parse(data)
    assert says in str(info.value) and "transforms.json" in str(info.value)


def test_a_truncated_frame_stops_ns_train_before_it_writes(synth_dataset, tmp_path):
    data = copy_videos(synth_dataset[0], tmp_path / "data")
    frame = data / "ben/head_imgs/3.jpg"
    frame.write_bytes(frame.read_bytes()[: frame.stat().st_size * 4 // 5])  # the header survives its check
    assert len(parse(data).image_filenames) == 54
    with pytest.raises(DatasetError) as info:
        read_dataset(data, decode_images=True)
    assert "3.jpg: image is unreadable" in str(info.value)
    stderr = fails("ns-train", "mi-nerf-fast", "--data", str(data), "--output-dir", str(tmp_path / "out"), *CPU,
                   cwd=tmp_path)  # fmt: skip
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("mi-nerf-data: ") and "3.jpg: image is unreadable" in last
    assert not (tmp_path / "out").exists()


def test_frames_with_alpha_grey_and_upper_case_extensions_load_by_the_documented_rules(synth_dataset, tmp_path):
    from dataparsers.head_dataset import HeadDataset

    data = copy_videos(synth_dataset[0], tmp_path / "data")
    images = data / "ada/head_imgs"
    rgb = np.asarray(Image.open(images / "0.jpg").convert("RGB"))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :10] = 0  # a transparent strip on the left
    Image.fromarray(np.dstack([rgb, alpha])).save(images / "0.png")
    (images / "0.jpg").unlink()  # 0.jpg is now found as 0.png (RGBA)
    Image.open(images / "1.jpg").convert("L").save(images / "1.jpg")  # grey
    (images / "2.jpg").rename(images / "2.JPG")  # upper-case extension
    dataset = HeadDataset(parse(data))
    first, grey, upper = (dataset.get_numpy_image(k) for k in range(3))
    background = np.asarray(Image.open(data / "ada/bc.jpg").convert("RGB"))
    assert first.shape == grey.shape == upper.shape == (64, 64, 3)
    assert np.abs(first[:, :10].astype(int) - background[:, :10]).max() <= 1  # transparent: the video background
    assert np.array_equal(first[:, 10:], rgb[:, 10:])
    assert np.ptp(grey.astype(int), axis=2).max() == 0  # grey, as RGB


# 5. Adding (or removing) a person: a trained run keeps its own identities.
def test_a_run_keeps_its_identities_when_videos_are_added_or_gone(trained, train_dataset, tmp_path):
    data = copy_videos(train_dataset, tmp_path / "data")
    run_dir = moved_run(trained, data, tmp_path / "outputs")
    config = yaml.load((run_dir / "config.yml").read_text(), Loader=yaml.UnsafeLoader)
    assert config.pipeline.datamanager.dataparser.identities == ("ada", "ben")  # recorded by ns-train
    shutil.copytree(data / "ada", data / "dan")  # a new person joins the root
    (data / "zed").mkdir()  # and a folder that is no video at all
    run("ns-eval", "--load-config", str(run_dir / "config.yml"), "--output-path", str(tmp_path / "e.json"),
        cwd=tmp_path)  # fmt: skip
    assert json.loads((tmp_path / "e.json").read_text())["results"]["psnr"] > 3.0
    shutil.rmtree(data / "ben")
    line = last_line(fails("ns-eval", "--load-config", str(run_dir / "config.yml"), "--output-path",
                           str(tmp_path / "e2.json"), cwd=tmp_path))  # fmt: skip
    assert line.startswith("mi-nerf-data: ") and "no video named ben" in line and "restore that video's folder" in line


# 6. + 7. Malformed inputs and misleading messages.
def test_empty_expression_file_load_dir_without_checkpoint_and_moved_data(trained, train_dataset, tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "nothing").mkdir()
    run_dir = moved_run(trained, tmp_path / "moved-away", tmp_path / "outputs")
    empty, resume, moved = together([  # independent commands, two at a time
        lambda: last_line(fails("minerf-render", "transfer", "--load-config", str(trained / "config.yml"),
                                "--identity", "ada", "--expressions", str(tmp_path / "empty.npy"), "--output-path",
                                str(tmp_path / "v.mp4"), cwd=tmp_path)),
        lambda: fail_line("ns-train", "mi-nerf-small", "--data", str(train_dataset), "--output-dir",
                          str(tmp_path / "o"), "--load-dir", str(tmp_path / "nothing"), *CPU, cwd=tmp_path),
        lambda: last_line(fails("ns-eval", "--load-config", str(run_dir / "config.yml"), "--output-path",
                                str(tmp_path / "e.json"), cwd=tmp_path)),
    ])  # fmt: skip
    assert empty.startswith("expressions: ") and "empty.npy: the file is empty (0 bytes)" in empty
    assert "no checkpoint (step-*.ckpt) to resume from" in resume and not (tmp_path / "o").exists()
    assert "moved-away: dataset root does not exist" in moved and "'data:' at the top of the run's config.yml" in moved


def test_nerfstudio_commands_report_bad_paths_configs_and_checkpoints_in_one_line(trained, train_dataset, tmp_path):
    run_dir = moved_run(trained, train_dataset, tmp_path / "outputs")
    for checkpoint in (run_dir / "nerfstudio_models").glob("*.ckpt"):
        checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    missing, broken = together([  # independent commands, two at a time
        lambda: last_line(fails("ns-eval", "--load-config", str(tmp_path / "nope.yml"), cwd=tmp_path)),
        lambda: last_line(fails("ns-render", "dataset", "--load-config", str(run_dir / "config.yml"), "--output-path",
                                str(tmp_path / "r"), cwd=tmp_path)),
    ])  # fmt: skip
    assert missing.startswith("ns-eval: ") and "nope.yml: No such file or directory" in missing
    assert broken.startswith("ns-render: ") and "holds no readable checkpoint" in broken


def test_track_params_saved_with_numpy_arrays_load(synth_dataset, tmp_path):
    data = copy_videos(synth_dataset[0], tmp_path / "data")
    params = torch.load(data / "ben/track_params.pt", weights_only=True)
    torch.save({k: v.numpy() for k, v in params.items()}, data / "ben/track_params.pt")
    expressions = parse(data).metadata["catalogue"].expressions[1]
    assert torch.allclose(expressions, params["exp"].float())


# 8. Interrupted runs: what is kept, what a rerun does.
def test_ctrl_c_in_ns_train_saves_a_checkpoint_and_says_how_to_resume(train_dataset, tmp_path):
    out = tmp_path / "outputs"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(BIN / "ns-train"), "mi-nerf-fast", "--data", str(train_dataset), "--output-dir",
                             str(out), "--vis", "tensorboard", "--max-num-iterations", "100000", "--steps-per-save",
                             "30", *CPU], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 180
    while not list(out.rglob("step-*.ckpt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)  # training is under way once the first periodic checkpoint (step 30) is there
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    last = [line for line in stderr.splitlines() if line.strip()][-1]
    assert "interrupted (Ctrl-C) at step" in last and "--load-dir" in last
    checkpoints = list(out.rglob("step-*.ckpt"))  # nerfstudio keeps the latest only: the one Ctrl-C wrote
    assert len(checkpoints) == 1 and not list(out.rglob(".checkpoint-saving"))
    step = torch.load(checkpoints[0], weights_only=True)["step"]
    assert step > 30 and f"at step {step};" in last


def test_ctrl_c_while_tracking_leaves_no_partial_folder(tmp_path, monkeypatch):
    from minerf_ns.scripts import track
    from minerf_ns.tracking import tracker

    root = tmp_path / "data"
    (root / "ada").mkdir(parents=True)
    (root / "ada/keep.txt").write_text("mine")  # an earlier result, replaced only by a complete one
    frames = tmp_path / "ada"
    frames.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(frames / "0.png")

    def interrupted(source, folder, settings, progress=None):
        folder.mkdir(parents=True)
        (folder / "half.txt").write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(tracker, "track_video", interrupted)
    command = track.TrackCommand(videos=[frames], output=root, overwrite=True)
    with pytest.raises(SystemExit) as info:
        track.run_command(track.TOOL, command.main)
    assert info.value.code == 130
    assert sorted(p.name for p in root.iterdir()) == ["ada"] and (root / "ada/keep.txt").read_text() == "mine"


# 9. Silent surprises: a truncated video is reported.
def test_a_truncated_video_is_reported(tmp_path):
    import imageio_ffmpeg

    from minerf_ns.tracking.video_source import open_source

    path = tmp_path / "clip.mp4"
    # The index first (as streamed files have it) and every frame a key frame of noise: the data is spread evenly.
    writer = imageio_ffmpeg.write_frames(str(path), (64, 64), fps=25, macro_block_size=1,
                                         output_params=["-movflags", "+faststart", "-g", "1"])  # fmt: skip
    writer.send(None)
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.send(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    writer.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # the last third of the frames' data is gone
    source = open_source(path)
    decoded = sum(1 for _ in source.frames())
    assert source.num_frames == 30 and 0 < decoded < 30
    assert f"decoded {decoded} of the 30 frames the file declares" in source.shortfall_warning(decoded)
    assert source.shortfall_warning(30) is None

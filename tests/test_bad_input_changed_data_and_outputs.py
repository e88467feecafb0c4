"""Issue 30: the promise (one line naming the file and the fix, no false success, nothing lost) in the newer
commands: options checked before a model loads, datasets changed after training, per-frame backgrounds without
masks, sound tracks shorter than their frames, two commands writing one output, paths with spaces."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import yaml
from nerfstudio_cli import BIN, CPU, fail_line, fails, run
from PIL import Image
from test_bad_input_and_failures import last_line, moved_run
from test_dataparser import copy_videos

from dataparsers.dataset_error import DatasetError
from minerf_ns.audio.waveform import write_wav
from minerf_ns.commands import CLAIMS, claim_output
from minerf_ns.scripts.personalize import Personalize


def test_personalize_checks_its_learning_rates_before_loading(trained, tmp_path):
    start = time.perf_counter()
    line = fail_line("minerf-personalize", "--load-config", str(trained / "config.yml"), "--grid-lr", "-1",
                     "--output-dir", str(tmp_path / "p"), cwd=tmp_path)  # fmt: skip
    assert "--grid-lr -1.0: a learning rate must be a positive number" in line, line
    assert time.perf_counter() - start < 20  # no model loaded (loading it takes minutes on a big run)
    for option, value in (("lr", float("nan")), ("code_lr", 0.0)):  # the same check, in this process
        settings = Personalize(load_config=trained / "config.yml", output_dir=tmp_path / "p", **{option: value})
        with pytest.raises(SystemExit, match=f"--{option.replace('_', '-')} {value}: a learning rate must be"):
            settings.main()
    assert not (tmp_path / "p").exists()


def test_a_dataset_changed_after_training_is_named(trained, train_dataset, tmp_path):
    """Train frames removed (through ns-eval), head masks deleted, frames resized (the run's dataparser, in this
    process): each named in one line instead of a broken checkpoint, a silent static background or old intrinsics."""
    data = copy_videos(train_dataset, tmp_path / "data")
    config = moved_run(trained, data, tmp_path / "outputs") / "config.yml"
    train_json = data / "ada" / "transforms_train.json"
    original = train_json.read_text()
    meta = json.loads(original)
    meta["frames"] = meta["frames"][:-2]
    train_json.write_text(json.dumps(meta))
    line = last_line(fails("ns-eval", "--load-config", str(config), "--output-path", str(tmp_path / "e.json"),
                           cwd=tmp_path))  # fmt: skip
    assert "data/ada: has 25 train frames now, 27 when the run was trained" in line, line
    assert not (tmp_path / "e.json").exists()
    train_json.write_text(original)
    parser_config = yaml.load(config.read_text(), Loader=yaml.UnsafeLoader).pipeline.datamanager.dataparser
    assert parser_config.trained_on["ada"] == {"train_frames": 27, "image_size": [48, 48], "head_masks": True}
    assert len(parser_config.setup().videos) == 2  # unchanged: it loads
    shutil.move(data / "ben" / "parsing", tmp_path / "parsing")
    with pytest.raises(DatasetError, match="data/ben: had head masks .* when the run was trained and has none now"):
        _ = parser_config.setup().videos
    shutil.move(tmp_path / "parsing", data / "ben" / "parsing")
    for image in [*(data / "ada").glob("*_imgs/*.jpg"), data / "ada" / "bc.jpg"]:
        Image.open(image).resize((96, 96)).save(image)
    with pytest.raises(DatasetError, match="data/ada: its frames are 96x96 now, 48x48 when the run was trained"):
        _ = parser_config.setup().videos


def test_per_frame_backgrounds_without_head_masks_stop_ns_train(train_dataset, tmp_path):
    data = copy_videos(train_dataset, tmp_path / "data")
    shutil.rmtree(data / "ada" / "parsing")
    line = last_line(fails("ns-train", "mi-nerf-fast", "--data", str(data), "--output-dir", str(tmp_path / "o"), *CPU,
                           "mi-nerf-data", "--background", "per-frame", cwd=tmp_path))  # fmt: skip
    assert "data/ada: --background per-frame needs head masks" in line, line
    assert not (tmp_path / "o").exists()


def test_audio_fit_refuses_a_sound_track_shorter_than_its_frames(dataset_with_sound, tmp_path):
    data = copy_videos(dataset_with_sound, tmp_path / "data")
    for samples, says in ((1, "is 0.00 s long"), (8000, "is 0.50 s long")):
        write_wav(data / "ada" / "aud.wav", np.full(samples, 0.3, np.float32))
        line = fail_line("minerf-audio", "fit", "--data", str(data), "--output", str(tmp_path / "m.pt"), cwd=tmp_path)
        assert f"aud.wav: {says}, but the frames it accompanies span 1.20 s" in line, line  # 30 frames at 25 fps
    assert not (tmp_path / "m.pt").exists()


def test_two_commands_writing_one_output(dataset_with_sound, tmp_path):
    """The second stops at once naming the first; Ctrl-C in the first leaves no output, no claim, no temporary file."""
    out = tmp_path / "m.pt"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    first = subprocess.Popen([str(BIN / "minerf-audio"), "fit", "--data", str(dataset_with_sound), "--output",
                              str(out), "--steps", "1000000"], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        deadline = time.time() + 120
        while not any(p.read_text() == str(first.pid) for p in CLAIMS.glob("*") if p.is_file()):
            assert time.time() < deadline and first.poll() is None, "the first fit never claimed its output"
            time.sleep(0.5)
        line = fail_line("minerf-audio", "fit", "--data", str(dataset_with_sound), "--output", str(out), cwd=tmp_path)
        assert f"m.pt is being written by another command now (process {first.pid})" in line, line
    finally:
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=60)
    assert first.returncode == 130 and "Traceback" not in stderr
    assert not out.exists() and not list(tmp_path.glob(".m*"))
    assert not any(p.read_text() == str(first.pid) for p in CLAIMS.glob("*") if p.is_file())


def test_a_claim_left_by_a_killed_process_is_taken_over(tmp_path):
    sleeper = subprocess.Popen(["python", "-c", "import time; time.sleep(60)"])
    claim_file = None
    try:
        from minerf_ns import commands

        claim_output(tmp_path / "x.mp4", "test")  # ours
        claim_file = next(p for p in CLAIMS.glob("*") if p.read_text() == str(os.getpid()))
        claim_file.write_text(str(sleeper.pid))  # as if a living command held it
        with pytest.raises(SystemExit, match="x.mp4 is being written by another command now"):
            commands.claim_output(tmp_path / "x.mp4", "test")
    finally:
        sleeper.kill()
        sleeper.wait()
    claim_output(tmp_path / "x.mp4", "test")  # its holder is gone: taken over
    assert claim_file.read_text() == str(os.getpid())


def test_synth_suggests_a_quoted_path(tmp_path):
    out = tmp_path / "my data"
    proc = run("minerf-synth", str(out), "--num-identities", "1", "--num-frames", "2", "--image-size", "32",
               "--workers", "1", cwd=tmp_path)  # fmt: skip
    assert f"ns-train mi-nerf --data '{out}'" in " ".join(proc.stdout.split()), proc.stdout

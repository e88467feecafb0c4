"""Shared fixtures: small synthetic datasets generated once per test session; and the ``cli`` marker: every test that
runs a console script (nerfstudio's or ours) or needs a trained run is marked, so ``pytest -m "not cli"`` runs the
unit tests alone."""

from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from nerfstudio_cli import train

from dataparsers.dataset_scan import read_video
from minerf_ns.audio.basis import expression_names
from minerf_ns.audio.waveform import SAMPLE_RATE, write_wav
from minerf_ns.synthetic.dataset_writer import SynthSettings, generate


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory) -> tuple[Path, dict]:
    """3 identities x 20 frames at 64 px, with transfer ground truth (read-only: copy before changing it)."""
    root = tmp_path_factory.mktemp("synth") / "data"
    meta = generate(root, SynthSettings(num_identities=3, num_frames=20, image_size=64, seed=7), workers=1)
    return root, meta


@pytest.fixture(scope="session")
def train_dataset(tmp_path_factory) -> Path:
    """2 identities x 30 frames at 48 px, no transfer ground truth: for training tests."""
    root = tmp_path_factory.mktemp("train") / "data"
    generate(
        root, SynthSettings(num_identities=2, num_frames=30, image_size=48, seed=3), with_transfer=False, workers=1
    )
    return root


@pytest.fixture(scope="session")
def trained(train_dataset, tmp_path_factory) -> Path:
    """The run folder of a 60-iteration `ns-train mi-nerf-small` on ``train_dataset`` (config.yml, checkpoints): enough
    for the density to clear around the head, so each identity's background shows."""
    return train(train_dataset, tmp_path_factory.mktemp("runs") / "outputs", iterations=60)


@pytest.fixture(scope="session")
def trained_two_of_three(synth_dataset, tmp_path_factory) -> Path:
    """A 30-iteration `ns-train mi-nerf-fast` on ada and ben of ``synth_dataset`` (cleo stays a new person)."""
    # Dataparser options follow the dataparser's subcommand name.
    fast = ["--pipeline.model.geometry.num-proposal-samples", "8", "--pipeline.model.geometry.num-samples", "12",
            "mi-nerf-data", "--identities", "ada", "ben"]  # fmt: skip
    out = tmp_path_factory.mktemp("fast-runs") / "outputs"
    return train(synth_dataset[0], out, *fast, iterations=30, method="mi-nerf-fast")


@pytest.fixture(scope="session")
def trained_gaussians(train_dataset, tmp_path_factory) -> Path:
    """The run folder of a 120-iteration `ns-train mi-gaussians` on ``train_dataset``."""
    return train(train_dataset, tmp_path_factory.mktemp("gaussian-runs") / "outputs", iterations=120,
                 method="mi-gaussians")  # fmt: skip


def toy_voice(envelope: np.ndarray, fps: float, seed: int) -> np.ndarray:
    """Noise whose loudness follows ``envelope`` frame by frame (a stand-in for speech)."""
    rng = np.random.default_rng(seed)
    per_frame = int(SAMPLE_RATE / fps)
    gain = np.repeat(0.02 + 0.3 * envelope, per_frame)
    return (rng.normal(size=len(gain)) * gain).astype(np.float32)


@pytest.fixture(scope="session")
def dataset_with_sound(train_dataset, tmp_path_factory) -> Path:
    """The training dataset with an aud.wav per video (toy speech following each video's jawOpen)."""
    root = tmp_path_factory.mktemp("sound") / "data"
    shutil.copytree(train_dataset, root)
    jaw = expression_names(53).index("jawOpen")
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        video = read_video(folder)
        assert video.audio is None and video.fps == 25.0
        envelope = np.clip(video.expressions[:, jaw] / max(video.expressions[:, jaw].max(), 1e-3), 0, 1)
        write_wav(folder / "aud.wav", toy_voice(envelope, 25.0, seed=len(folder.name)))
    return root


CLI_CALLS = re.compile(r"\b(run|fails|fail_line|train|subprocess\.\w+|Popen)\(")
"""What launches a console script in these tests (``nerfstudio_cli``'s helpers, ``subprocess``)."""
CLI_FIXTURES = {"trained", "trained_two_of_three", "trained_gaussians", "dataset_with_sound", "browser"}
"""Fixtures built with ns-train (or beside one), and the headless browser: a test that uses them is slow too."""


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        function = getattr(item, "function", None)
        uses_cli = function is not None and CLI_CALLS.search(inspect.getsource(function)) is not None
        if uses_cli or CLI_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cli)

"""The mi-nerf-data dataparser: shapes, dtypes, round-trip of the generator's truth, both layouts, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dataparsers.dataset_error import DatasetError
from dataparsers.minerf_dataparser import MiNerfDataParserConfig
from minerf_ns.catalogue import CATALOGUE


def parse(root: Path, split: str = "train"):
    return MiNerfDataParserConfig(data=root).setup().get_dataparser_outputs(split)


def copy_videos(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_ground_truth"))
    return dst


def to_native(video: Path) -> None:
    """Rewrite an AD-NeRF-layout synthetic video folder as the native layout."""
    meta = json.loads((video / "transforms_train.json").read_text())
    val = json.loads((video / "transforms_val.json").read_text())
    exp = torch.load(video / "track_params.pt", weights_only=True)["exp"]
    frames = [
        {"file_path": f"head_imgs/{f['img_id']}.jpg", "transform_matrix": f["transform_matrix"],
         "expression": exp[f["img_id"]].tolist()}
        for f in meta["frames"] + val["frames"]
    ]  # fmt: skip
    native = {"fl_x": meta["focal_len"], "fl_y": meta["focal_len"], "cx": meta["cx"], "cy": meta["cy"],
              "background": "bc.jpg", "frames": frames}  # fmt: skip
    (video / "transforms.json").write_text(json.dumps(native))
    for name in ("transforms_train.json", "transforms_val.json", "track_params.pt"):
        (video / name).unlink()


def test_outputs_shapes_dtypes_and_splits(synth_dataset):
    root, _ = synth_dataset
    outs = {s: parse(root, s) for s in ("train", "val", "test")}
    train, val = outs["train"], outs["val"]
    assert len(train.image_filenames) == 3 * 18 and len(val.image_filenames) == 3 * 2
    cams = train.cameras
    assert cams.camera_to_worlds.shape == (54, 3, 4) and cams.camera_to_worlds.dtype == torch.float32
    for k in ("fx", "fy", "cx", "cy"):
        assert getattr(cams, k).dtype == torch.float32 and getattr(cams, k).shape == (54, 1)
    assert cams.metadata["expression"].shape == (54, 53) and cams.metadata["expression"].dtype == torch.float32
    assert cams.metadata["identity_idx"].shape == (54, 1) and cams.metadata["identity_idx"].dtype == torch.long
    assert torch.equal(cams.metadata["frame_idx"][:, 0], torch.arange(54))
    assert torch.all(val.cameras.metadata["frame_idx"] == -1)
    assert set(train.image_filenames).isdisjoint(val.image_filenames)
    assert outs["test"].image_filenames == val.image_filenames
    catalogue = train.metadata[CATALOGUE]
    assert catalogue.identity_names == ["ada", "ben", "cleo"] and catalogue.expression_dim == 53
    assert 0.5 < catalogue.near < 0.9 < 1.1 < catalogue.far < 1.4
    assert catalogue.backgrounds[1].shape == (64, 64, 3) and catalogue.backgrounds[1].dtype == torch.uint8
    # The catalogue lists every frame of every video: train frames numbered in order, held-out ones unseen (-1).
    assert [len(t) for t in catalogue.train_frame_index] == [20, 20, 20]
    assert torch.equal(torch.cat([t[:18] for t in catalogue.train_frame_index]), torch.arange(54))
    assert all(bool((t[18:] == -1).all()) for t in catalogue.train_frame_index)
    assert torch.equal(catalogue.train_frame_identity(), torch.arange(3).repeat_interleave(18))
    assert catalogue.train_frame_location(20) == (1, 2) and catalogue.intrinsics[2].width == 64


def test_round_trip_of_true_poses_and_expressions(synth_dataset):
    root, meta = synth_dataset
    cams = {s: parse(root, s).cameras for s in ("train", "val")}
    for vid, entry in enumerate(meta["identities"]):
        true_c2w = np.asarray(entry["camera_to_worlds"])
        true_exp = np.asarray(entry["expressions"])
        train_sel = (cams["train"].metadata["identity_idx"][:, 0] == vid).numpy()
        val_sel = (cams["val"].metadata["identity_idx"][:, 0] == vid).numpy()
        c2w = np.concatenate([cams["train"].camera_to_worlds[train_sel], cams["val"].camera_to_worlds[val_sel]])
        exp = np.concatenate(
            [cams["train"].metadata["expression"][train_sel], cams["val"].metadata["expression"][val_sel]]
        )
        np.testing.assert_allclose(c2w, true_c2w[:, :3, :4], atol=1e-5)
        np.testing.assert_allclose(exp, true_exp, atol=1e-6)
    fx = float(cams["train"].fx[0, 0])
    assert fx == pytest.approx(meta["intrinsics"]["fx"])


def test_native_layout_reads_the_same_cameras(synth_dataset, tmp_path):
    root, _ = synth_dataset
    native = copy_videos(root, tmp_path / "native")
    for video in native.iterdir():
        to_native(video)
    a, b = parse(root), parse(native)
    assert torch.allclose(a.cameras.camera_to_worlds, b.cameras.camera_to_worlds, atol=1e-6)
    assert torch.equal(a.cameras.metadata["expression"], b.cameras.metadata["expression"])
    assert torch.equal(a.cameras.metadata["frame_idx"], b.cameras.metadata["frame_idx"])


def test_adnerf_skipped_frame_keeps_the_row_map(synth_dataset, tmp_path):
    """Frame 3 was never tracked: exp has one row fewer and img_ids jump; rows after it must not shift."""
    root, meta = synth_dataset
    data = copy_videos(root, tmp_path / "data")
    video = data / "ada"
    params = torch.load(video / "track_params.pt", weights_only=True)
    keep = [k for k in range(20) if k != 3]
    params["exp"] = params["exp"][keep]
    torch.save(params, video / "track_params.pt")
    train = json.loads((video / "transforms_train.json").read_text())
    train["frames"] = [f for f in train["frames"] if f["img_id"] != 3]
    (video / "transforms_train.json").write_text(json.dumps(train))
    out = parse(data)
    sel = out.cameras.metadata["identity_idx"][:, 0] == 0
    exp = out.cameras.metadata["expression"][sel].numpy()
    true = np.asarray(meta["identities"][0]["expressions"])[[k for k in keep if k < 18]]
    np.testing.assert_allclose(exp, true, atol=1e-6)


def _break(root: Path, tmp_path: Path, how) -> Path:
    data = copy_videos(root, tmp_path / "data")
    how(data)
    return data


def _json_edit(path: Path, edit) -> None:
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def _set_exp(path: Path, value) -> None:
    params = torch.load(path, weights_only=True)
    params["exp"] = value(params["exp"])
    torch.save(params, path)


BAD_INPUTS = {
    "missing root": (lambda d: shutil.rmtree(d), "", "does not exist"),
    "empty root": (lambda d: [shutil.rmtree(p) for p in d.iterdir()], "", "no video folders"),
    "neither layout": (lambda d: (d / "zed").mkdir(), "zed", "neither an AD-NeRF video"),
    "malformed json": (lambda d: (d / "ben/transforms_val.json").write_text("{ nope"), "transforms_val.json",
                       "malformed JSON"),
    "missing transform_matrix": (lambda d: _json_edit(d / "ben/transforms_train.json",
                                 lambda m: m["frames"][2].pop("transform_matrix")), "transforms_train.json",
                                 "frames[2] has no 'transform_matrix'"),
    "non 4x4 matrix": (lambda d: _json_edit(d / "ben/transforms_train.json",
                       lambda m: m["frames"][1].update(transform_matrix=[[1, 0], [0, 1]])), "transforms_train.json",
                       "not a 4x4 matrix"),
    "too few exp rows": (lambda d: _set_exp(d / "cleo/track_params.pt", lambda e: e[:10]), "track_params.pt",
                         "10 rows but the transforms list 20 frames"),
    "expression dims differ": (lambda d: _set_exp(d / "cleo/track_params.pt", lambda e: e[:, :50]), "cleo",
                               "50 values per frame but ada has 53"),
    "nan expression": (lambda d: _set_exp(d / "ben/track_params.pt", lambda e: e.index_fill(0, torch.tensor([4]),
                       float("nan"))), "track_params.pt", "frame 4 contains NaN"),
    "inf pose": (lambda d: _json_edit(d / "ada/transforms_val.json",
                 lambda m: m["frames"][0]["transform_matrix"][0].__setitem__(3, float("inf"))), "transforms_val.json",
                 "contains NaN or inf"),
    "missing image": (lambda d: (d / "ada/head_imgs/7.jpg").unlink(), "7.jpg", "referenced image is missing"),
    "unreadable image": (lambda d: (d / "ada/head_imgs/8.jpg").write_bytes(b"not a jpeg"), "8.jpg", "unreadable"),
    "different sizes": (lambda d: shutil.copy(d.parent / "synth_big.jpg", d / "ben/head_imgs/5.jpg"), "5.jpg",
                        "image is 80x80 but 0.jpg is 64x64"),
    "duplicate names": (lambda d: shutil.copytree(d / "ada", d / "Ada"), "ada", "identity name 'ada' is also used"),
    "one frame": (lambda d: [_json_edit(d / "ben/transforms_train.json", lambda m: m.update(frames=[])),
                             _json_edit(d / "ben/transforms_val.json", lambda m: m.update(frames=m["frames"][:1]))],
                  "transforms_train.json", "has 1 frame(s)"),
    # Issue 17: intrinsics, malformed fields, surprises that used to pass silently or crash later.
    "nan focal": (lambda d: (d / "ada/transforms_train.json").write_text(
        (d / "ada/transforms_train.json").read_text().replace('"focal_len": 160.0', '"focal_len": NaN')),
        "transforms_train.json", "'focal_len' is nan, not a finite number"),
    "focal with a unit": (lambda d: _json_edit(d / "ada/transforms_train.json", lambda m: m.update(focal_len="80px")),
                          "transforms_train.json", "'focal_len' is '80px', not a finite number"),
    "zero focal": (lambda d: _json_edit(d / "ada/transforms_train.json", lambda m: m.update(focal_len=0)),
                   "transforms_train.json", "focal length fx is 0 px for 64x64 images"),
    "absurd focal": (lambda d: _json_edit(d / "ada/transforms_train.json", lambda m: m.update(focal_len=1e30)),
                     "transforms_train.json", "focal length fx is 1e+30 px"),
    "principal point outside": (lambda d: _json_edit(d / "ada/transforms_train.json", lambda m: m.update(cx=500)),
                                "transforms_train.json", "principal point (500, 32) lies more than an image"),
    "exp of strings": (lambda d: _set_params(d / "ben/track_params.pt", exp=[["a"] * 53] * 20), "track_params.pt",
                       "'exp' is a list that is not numeric"),
    "non-numeric face_rect": (lambda d: [_json_edit(d / f"ada/transforms_{s}.json", lambda m: [
        f.update(face_rect=["x", 1, 2, 3]) for f in m["frames"]]) for s in ("train", "val")],
        "transforms_train.json", "a 'face_rect' is not four finite numbers"),
    "0-byte track_params": (lambda d: (d / "cleo/track_params.pt").write_bytes(b""), "track_params.pt",
                            "is empty (0 bytes)"),
    "only val frames": (lambda d: [_json_edit(d / "ben/transforms_val.json", lambda m: m["frames"].extend(
        json.loads((d / "ben/transforms_train.json").read_text())["frames"])),
        _json_edit(d / "ben/transforms_train.json", lambda m: m.update(frames=[]))],
        "transforms_train.json", "lists no frames to train on (20 frames are all in transforms_val.json)"),
    "no expression values": (lambda d: [_set_exp(d / n / "track_params.pt", lambda e: e[:, :0])
                                        for n in ("ada", "ben", "cleo")], "track_params.pt", "no values per frame"),
    "same name in two Unicode forms": (lambda d: [shutil.copytree(d / "ada", d / "Jos\u00e9"),
                                                  shutil.copytree(d / "ada", d / "Jose\u0301")],
                                       "Jos", "is also used by"),
}  # fmt: skip


def _set_params(path: Path, **entries) -> None:
    params = torch.load(path, weights_only=True)
    params.update(entries)
    torch.save(params, path)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(synth_dataset, tmp_path, case):
    import cv2

    root, _ = synth_dataset
    cv2.imwrite(str(tmp_path / "synth_big.jpg"), np.zeros((80, 80, 3), np.uint8))
    how, names, says = BAD_INPUTS[case]
    data = _break(root, tmp_path, how)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(DatasetError) as info:
        parse(data)
    message = str(info.value)
    assert "\n" not in message and says in message and names in message and "Fix:" in message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_ns_train_bad_data_one_line_no_traceback_nothing_written(tmp_path):
    bad = tmp_path / "data" / "ada"
    bad.mkdir(parents=True)
    (bad / "transforms_train.json").write_text("{ nope")
    ns_train = Path(sys.executable).parent / "ns-train"
    proc = subprocess.run(
        [str(ns_train), "mi-nerf-small", "--data", str(tmp_path / "data"), "--output-dir", str(tmp_path / "outputs"),
         "--machine.device-type", "cpu", "--vis", "tensorboard"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "mi-nerf-data: " in proc.stderr and "transforms_train.json: malformed JSON" in proc.stderr
    assert not (tmp_path / "outputs").exists()

"""nerfstudio's multi-process training (what ``--machine.num-devices N`` runs, one process a device) with this model:
two CPU processes (gloo) train the same run through nerfstudio's train_loop steps; DDP averages every gradient, so
both end with identical weights, identity and latent codes included. On a CPU, ns-train itself refuses more than one
device with one line (nerfstudio launches processes per GPU)."""

from __future__ import annotations

import copy
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from nerfstudio_cli import IDENTITY_CODES, LATENT_CODES, fail_line

from minerf_ns.config import METHODS
from minerf_ns.training import configure_run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker(rank: int, world_size: int, port: int, config, out: str) -> None:
    """What nerfstudio's _distributed_worker and train_loop do for one process, without their CUDA check."""
    from nerfstudio.scripts.train import _set_random_seed

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", world_size=world_size, rank=rank)
    _set_random_seed(config.machine.seed + rank)  # as train_loop: each process draws its own rays
    trainer = config.setup(local_rank=rank, world_size=world_size)
    trainer.setup()
    first_batch = trainer.pipeline.datamanager.next_train(0)[1]["indices"][:4].tolist()
    trainer.train()
    state = {k: v.detach().clone() for k, v in trainer.pipeline.model.state_dict().items()}
    torch.save({"state": state, "first_batch": first_batch, "ddp": type(trainer.pipeline._model).__name__},
               os.path.join(out, f"rank{rank}.pt"))  # fmt: skip
    dist.destroy_process_group()


@pytest.mark.cli  # nerfstudio's launcher starts two training processes
def test_two_cpu_processes_train_identical_weights(train_dataset, tmp_path):
    config = copy.deepcopy(METHODS["mi-nerf-fast"].config)
    config.pipeline.datamanager.data = train_dataset
    config.pipeline.datamanager.train_num_rays_per_batch = 64
    config.pipeline.datamanager.pixel_sampler.num_rays_per_batch = 64
    configure_run(config, tmp_path / "outputs", "ddp", iterations=6, device="cpu", seed=0)
    before = {k: v.clone() for k, v in config.pipeline.setup(device="cpu").model.state_dict().items()}
    mp.spawn(worker, args=(2, free_port(), config, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["ddp"] == ranks[1]["ddp"] == "DistributedDataParallel"
    assert ranks[0]["first_batch"] != ranks[1]["first_batch"]  # each process trained on its own rays
    a, b = ranks[0]["state"], ranks[1]["state"]
    assert sorted(a) == sorted(b)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"the processes disagree on {different}"
    for key in (IDENTITY_CODES.removeprefix("_model."), LATENT_CODES.removeprefix("_model.")):
        assert not torch.equal(a[key], before[key]), f"{key} did not train"  # the codes moved, in sync
    assert int(a["geometry.occupancy.computed_at"]) == 5  # the last iteration's grid, on both


def test_ns_train_on_cpu_refuses_several_devices_in_one_line(train_dataset, tmp_path):
    line = fail_line("ns-train", "mi-nerf-fast", "--data", str(train_dataset), "--output-dir", str(tmp_path / "out"),
                     "--machine.device-type", "cpu", "--machine.num-devices", "2", cwd=tmp_path)  # fmt: skip
    assert "needs CUDA GPUs" in line and not (tmp_path / "out").exists()

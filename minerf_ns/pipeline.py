"""The MI-NeRF pipeline: nerfstudio's VanillaPipeline, whose multi-process wrapper also works for CPU processes.

With ``--machine.num-devices N`` nerfstudio runs one process per device and wraps the model in DDP with the GPU id as
``device_ids``, which DDP refuses for a model on the CPU; this pipeline passes no device ids there (gloo). Everything
that trains is reached from ``Model.forward`` (the codes and their norms are computed in ``get_outputs``), so DDP
averages every gradient, identity and latent codes included, and every process keeps the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Type

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from nerfstudio.pipelines.base_pipeline import VanillaPipeline, VanillaPipelineConfig


@dataclass
class MiNerfPipelineConfig(VanillaPipelineConfig):
    """nerfstudio's VanillaPipelineConfig with MiNerfPipeline."""

    _target: Type = field(default_factory=lambda: MiNerfPipeline)


class MiNerfPipeline(VanillaPipeline):
    """VanillaPipeline that wraps the model in DDP on GPUs (one device id a process) and on CPUs (none)."""

    def __init__(
        self,
        config: MiNerfPipelineConfig,
        device: str,
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        grad_scaler: Optional[Any] = None,
    ) -> None:
        super().__init__(config, device, test_mode, world_size=1, local_rank=local_rank, grad_scaler=grad_scaler)
        self.world_size = world_size
        self.datamanager.world_size = world_size
        if world_size > 1:
            device_ids = [local_rank] if torch.device(device).type == "cuda" else None
            self._model = DistributedDataParallel(self._model, device_ids=device_ids, find_unused_parameters=True)
            if device_ids:
                dist.barrier(device_ids=device_ids)
            else:
                dist.barrier()

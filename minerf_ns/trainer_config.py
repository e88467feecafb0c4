"""A TrainerConfig that checks the dataset before ``ns-train`` writes anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

from dataparsers.dataset_scan import read_dataset
from minerf_ns.trainer import MiNerfTrainer
from nerfstudio.engine.trainer import TrainerConfig


@dataclass
class MiNerfTrainerConfig(TrainerConfig):
    """nerfstudio's TrainerConfig with MiNerfTrainer (skips non-finite steps); ``save_config`` first reads and checks
    every video of the dataset.

    ``ns-train`` saves ``config.yml`` before the dataparser runs. Checking first means bad input stops with one line
    naming the file and the fix, and no output folder is created.
    """

    _target: Type = field(default_factory=lambda: MiNerfTrainer)

    def save_config(self) -> None:
        data = self.pipeline.datamanager.data or self.pipeline.datamanager.dataparser.data
        read_dataset(Path(data))
        super().save_config()

"""The one error a dataset reader raises: a single line that names the file and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Union


class DatasetError(SystemExit):
    """Bad input in a dataset.

    It derives from ``SystemExit`` so that ``ns-train``, ``ns-eval`` and every other command stop with this one line
    on stderr and exit status 1, never a traceback. Tests catch it like any exception.
    """

    def __init__(self, path: Union[Path, str], problem: str, fix: str, tool: str = "mi-nerf-data") -> None:
        self.path = Path(path)
        self.message = f"{tool}: {path}: {problem}. Fix: {fix}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

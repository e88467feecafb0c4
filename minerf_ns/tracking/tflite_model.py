"""The bundled mediapipe FaceMesh models (Apache-2.0, ``models/LICENSE-mediapipe``) run with LiteRT."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from importlib import resources
from typing import Iterator

import numpy as np

DETECTOR_MODEL = "face_detection_short_range.tflite"
LANDMARK_MODEL = "face_landmark.tflite"


KNOWN_NATIVE_NOTICE = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
"""LiteRT's C++ notice on every interpreter start; the only line ``_without_native_notice`` drops."""


@contextlib.contextmanager
def _without_native_notice() -> Iterator[None]:
    """Collect what native code writes to stderr meanwhile and pass it on, less LiteRT's start-up notice."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines = sink.read().decode(errors="replace").splitlines()
            rest = [line for line in lines if line.strip() and line.strip() != KNOWN_NATIVE_NOTICE]
            if rest:
                print("\n".join(rest), file=sys.stderr)


class TfliteModel:
    """One single-input ``.tflite`` network shipped in ``minerf_ns/tracking/models``."""

    def __init__(self, name: str, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy import, only when tracking

        path = resources.files(__package__).joinpath("models", name)
        with _without_native_notice():
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._outputs = [d["index"] for d in self._interpreter.get_output_details()]
        self.input_size = int(self._interpreter.get_input_details()[0]["shape"][1])

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        """Run on one float32 image [S, S, 3]; returns every output, batch dimension dropped."""
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(image[None], dtype=np.float32))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(i)[0] for i in self._outputs]

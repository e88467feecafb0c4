"""The bundled mediapipe FaceMesh models (Apache-2.0, ``models/LICENSE-mediapipe``) run with LiteRT."""

from __future__ import annotations

from importlib import resources

import numpy as np

DETECTOR_MODEL = "face_detection_short_range.tflite"
LANDMARK_MODEL = "face_landmark.tflite"


class TfliteModel:
    """One single-input ``.tflite`` network shipped in ``minerf_ns/tracking/models``."""

    def __init__(self, name: str, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy import, only when tracking

        path = resources.files(__package__).joinpath("models", name)
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

"""Put the viewer's camera where a training frame's camera was: on connect and on request.

nerfstudio's viewer opens with viser's default camera, which for a head at the origin in metres sits inside the head.
This control moves each browser client's camera to a video frame's real camera (pose and vertical field of view), as
clicking a training-camera frustum would.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np
import viser
import viser.transforms as vtf
from torch import Tensor

from nerfstudio.viewer.viewer_elements import ViewerControl

PoseSource = Callable[[], Tuple[Tensor, float]]
"""Returns the camera-to-world [3, 4] (nerfstudio convention) and vertical field of view (radians) to show."""


class FrameCameraControl(ViewerControl):
    """Moves viewer cameras to the pose given by ``pose_source`` when a client connects and on ``move_all()``."""

    def __init__(self, pose_source: PoseSource) -> None:
        self.pose_source = pose_source

    def _setup(self, viewer) -> None:
        super()._setup(viewer)
        self.viser_server.on_client_connect(self.move)

    def move(self, client: viser.ClientHandle) -> None:
        """Move one client's camera."""
        from nerfstudio.viewer.viewer import VISER_NERFSTUDIO_SCALE_RATIO

        c2w, fov = self.pose_source()
        c2w = c2w.detach().cpu().double().numpy()
        rotation = vtf.SO3.from_matrix(c2w[:3, :3]) @ vtf.SO3.from_x_radians(np.pi)
        with client.atomic():
            client.camera.fov = float(fov)
            client.camera.wxyz = rotation.wxyz
            client.camera.position = c2w[:3, 3] * VISER_NERFSTUDIO_SCALE_RATIO

    def move_all(self) -> None:
        """Move every connected client's camera (nothing before the viewer is set up)."""
        if getattr(self, "viser_server", None) is None:
            return
        for client in self.viser_server.get_clients().values():
            self.move(client)

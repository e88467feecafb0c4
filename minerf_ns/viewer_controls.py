"""MI-NeRF's controls in nerfstudio's viser viewer: whose identity, which video's expression, which frame, playback,
and moving the camera to a frame's camera.

nerfstudio finds viewer elements by walking the pipeline's attributes and sub-modules, so the controls live in an
``nn.Module`` (without parameters) that the model holds. The viewer's camera carries ``cam_idx`` = the training
frustum clicked last; a click on another frustum first sets the controls to that train frame.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Tuple

import numpy as np
import viser
import viser.transforms as vtf
from torch import Tensor, nn

from minerf_ns.catalogue import VideoCatalogue
from minerf_ns.contract import Condition
from minerf_ns.layout import DEFAULT_FPS
from nerfstudio.viewer.viewer_elements import (
    ViewerButton,
    ViewerCheckbox,
    ViewerControl,
    ViewerDropdown,
    ViewerSlider,
)

PoseSource = Callable[[], Tuple[Tensor, float]]
"""Returns the camera-to-world [3, 4] (nerfstudio convention) and vertical field of view (radians) to show."""


class FrameCameraControl(ViewerControl):
    """Moves viewer cameras to the pose given by ``pose_source`` when a client connects and on ``move_all()``.

    nerfstudio's viewer opens with viser's default camera, which for a head at the origin in metres sits inside the
    head; this puts each browser client's camera where a video frame's real camera was (pose and vertical field of
    view), as clicking a training-camera frustum would.
    """

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


class ViewerControls(nn.Module):
    """Identity, expression video, expression frame, playback and a camera button, over a video catalogue.

    Playback advances to the next frame once the current one has been rendered (and at most ``play_fps`` times a
    second), so the animation runs as fast as the renders allow and never queues frames the viewer cannot show.

    Args:
        catalogue: the videos the model was trained on.
        play_fps: the most frames a second playback shows (the videos' rate).
        render_timeout: seconds playback waits for a render before it moves on anyway.
    """

    def __init__(self, catalogue: VideoCatalogue, play_fps: float = DEFAULT_FPS, render_timeout: float = 5.0) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.play_fps = play_fps
        self.render_timeout = render_timeout
        self._rendered = threading.Event()
        names = catalogue.identity_names
        self.identity = ViewerDropdown("Identity", names[0], names, hint="Whose identity code to render")
        self.expression_video = ViewerDropdown(
            "Expression from video", names[0], names, hint="Which video's expressions drive the face"
        )
        longest = max(len(e) for e in catalogue.expressions)
        self.frame = ViewerSlider("Expression frame", 0, 0, longest - 1, step=1, hint="Frame of that video")
        self.play = ViewerCheckbox("Play expressions", False, cb_hook=self._on_play, hint="Step through frames")
        self.camera = FrameCameraControl(self.frame_camera)
        self.go_to_camera = ViewerButton("View from this frame's camera", cb_hook=lambda _: self.camera.move_all())
        self._play_thread: Optional[threading.Thread] = None
        self._clicked_frame = 0

    @property
    def active(self) -> bool:
        """True when a viewer has installed these controls (ns-viewer, or ns-train with the viewer)."""
        return getattr(self.identity, "gui_handle", None) is not None

    def rendered(self) -> None:
        """Called by the model after it rendered a viewer image: playback may show the next frame."""
        self._rendered.set()

    def condition(self, clicked_train_frame: Optional[int]) -> Condition:
        """What the viewer renders: the chosen identity making the chosen video's expression frame.

        Args:
            clicked_train_frame: the train frame whose frustum the camera carries (``cam_idx``), if any.
        """
        if clicked_train_frame is not None and clicked_train_frame != self._clicked_frame:
            self._clicked_frame = clicked_train_frame
            self.show_train_frame(clicked_train_frame)
        identity = self.catalogue.identity_index(self.identity.value)
        source = self.catalogue.identity_index(self.expression_video.value)
        return self.catalogue.frame_condition(source, int(self.frame.value), identity, frame_background=False)

    def show_train_frame(self, k: int) -> None:
        """Set the controls to train frame ``k`` (identity, expression video, frame)."""
        video, frame = self.catalogue.train_frame_location(k)
        name = self.catalogue.identity_names[video]
        self.identity.value = name
        self.expression_video.value = name
        self.frame.value = frame

    def frame_camera(self) -> Tuple[Tensor, float]:
        """Camera-to-world [3, 4] and vertical FOV (radians) of the expression video at its chosen frame."""
        source = self.catalogue.identity_index(self.expression_video.value)
        poses = self.catalogue.camera_to_worlds[source]
        return poses[min(int(self.frame.value), len(poses) - 1)], self.catalogue.intrinsics[source].vertical_fov

    def _on_play(self, element: ViewerCheckbox) -> None:
        """Start a thread that steps the expression frame while 'Play expressions' is ticked."""
        if element.value and (self._play_thread is None or not self._play_thread.is_alive()):
            self._play_thread = threading.Thread(target=self._play_loop, daemon=True)
            self._play_thread.start()

    def _play_loop(self) -> None:
        while bool(self.play.value):
            started = time.monotonic()
            self.step_frame()
            self._rendered.wait(self.render_timeout)
            time.sleep(max(0.0, 1.0 / self.play_fps - (time.monotonic() - started)))

    def step_frame(self) -> None:
        """Show the next frame of the expression video (asks the viewer for a render)."""
        source = self.catalogue.identity_index(self.expression_video.value)
        self._rendered.clear()
        self.frame.value = (int(self.frame.value) + 1) % len(self.catalogue.expressions[source])
        self.frame.cb_hook(self.frame)

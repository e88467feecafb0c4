"""Rendering 3D Gaussians: EWA projection, tile binning, and front-to-back compositing on the CPU (a small C++ kernel
of our own) or on CUDA (gsplat). Pure math: no nerfstudio.

The conventions are gsplat 1.4's (what nerfstudio 1.1.5 pins), so a scene renders the same on either device:
OpenCV cameras (x right, y down, z forward), a 0.3-pixel low-pass added to every projected covariance, a 3-sigma
screen radius, 16-pixel tiles, alpha = min(0.999, opacity * G), Gaussians under alpha 1/255 skipped, a pixel stopped
before its transmittance reaches 1e-4.
"""

from minerf_ns.splatting.projection import Projection, project
from minerf_ns.splatting.render import render_gaussians

__all__ = ["Projection", "project", "render_gaussians"]

"""``minerf-track``: raw talking-face videos to an AD-NeRF-layout MI-NeRF dataset, fully offline.

Pure numpy/torch/OpenCV plus LiteRT for mediapipe's FaceMesh models; imports no nerfstudio.
"""

"""Readers of MI-NeRF datasets (one folder per video) and the registered nerfstudio DataParser `mi-nerf-data`.

Nothing here imports the model: readers only turn files on disk into per-video records and nerfstudio Cameras.
"""

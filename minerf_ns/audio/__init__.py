"""Audio-driven expressions, offline: audio files -> timed phones -> viseme prior, and a learned audio-to-expression
mapping. Pure numpy/torch (no nerfstudio); ffmpeg (imageio-ffmpeg's) decodes and resamples."""

"""The face kit shared by the synthetic data generator and the video tracker (pure numpy/torch): the ICT-FaceKit
head model (MIT, ``ict_head.npz`` and its licence) and a numpy rasteriser."""

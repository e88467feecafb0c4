"""The names of the optimizer groups: the model's ``get_param_groups`` keys and the trainer config's ``optimizers``
(so ``--optimizers.<group>.optimizer.lr``), one owner for every module that names them."""

FIELDS = "fields"
"""The networks: the interaction module, the temporal smoothing and the geometry's networks."""
CODES = "codes"
"""The learned codes: one identity code per video, one latent code per train frame (personalization's own rate)."""
GRIDS = "grids"
"""The tri-plane geometry's planes (a higher learning rate than its decoders)."""
GAUSSIAN_GROUPS = ("means", "scales", "quats", "opacities", "colours", "gaussian_features")
"""The Gaussian geometry's per-Gaussian attributes, one group each (splatting's usual per-attribute rates): position
offsets, log scales, rotations, opacity logits, colour logits, and the features its deformation network reads."""

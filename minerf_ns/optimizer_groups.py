"""The names of the optimizer groups: the model's ``get_param_groups`` keys and the trainer config's ``optimizers``
(so ``--optimizers.<group>.optimizer.lr``), one owner for every module that names them."""

FIELDS = "fields"
"""The networks: the interaction module, the temporal smoothing and the geometry's networks."""
CODES = "codes"
"""The learned codes: one identity code per video, one latent code per train frame (personalization's own rate)."""
GRIDS = "grids"
"""The tri-plane geometry's planes (a higher learning rate than its decoders)."""

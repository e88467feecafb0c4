"""Synthetic talking heads from the ICT-FaceKit head model, with exact ground truth (pure numpy)."""

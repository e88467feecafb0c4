"""minerf_ns: MI-NeRF (one face NeRF for many identities) as a nerfstudio plugin."""

__version__ = "0.1.0"

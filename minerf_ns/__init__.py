"""minerf_ns: MI-NeRF (one face NeRF for many identities) as a nerfstudio plugin."""

from minerf_ns import legacy

__version__ = "0.2.0"

legacy.install()  # runs trained by 0.1.0 name modules that moved; they still load

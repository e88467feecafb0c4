"""minerf_ns: MI-NeRF (one face NeRF for many identities) as a nerfstudio plugin."""

from minerf_ns import commands, legacy

__version__ = "0.2.0"

legacy.install()  # runs trained by 0.1.0 name modules that moved; they still load
commands.install_one_line_errors()  # in ns-* commands: bad paths, configs and checkpoints in one line

"""What every ``minerf-*`` console script shares: a one-line failure (no traceback) for bad input, unwritable outputs
and Ctrl-C, output checks before any work, quiet warnings, refusing to overwrite an output, and loading a trained run
(``config.yml`` + newest checkpoint) with one-line errors; and the hook that gives nerfstudio's own commands one-line
errors for what a user causes."""

from __future__ import annotations

import atexit
import errno
import hashlib
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Callable, NoReturn, Optional, Sequence, Tuple

INTERRUPTED = 130
"""Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""


def run_command(tool: str, main: Callable[[], object]) -> None:
    """Run a console script's ``main`` so that what goes wrong outside its own checks still ends in one line: an
    ``OSError`` (a folder that cannot be written, a full disk) exits 1 naming the path, Ctrl-C exits 130. What each
    command had finished stays; what it was writing is removed by that writer (``media``, ``training``)."""
    try:
        main()
    except KeyboardInterrupt:
        print(f"{tool}: interrupted (Ctrl-C); outputs finished before stay, the one being written was removed",
              file=sys.stderr)  # fmt: skip
        sys.exit(INTERRUPTED)
    except OSError as err:
        where = err.filename if getattr(err, "filename", None) else "output"
        reason = err.strerror or str(err)
        fail(tool, f"{where}: {reason}. Fix: choose an output path you can write, on a disk with free space (outputs "
             "finished before stay)")  # fmt: skip


def install_one_line_errors() -> None:
    """In nerfstudio's own commands (ns-train, ns-eval, ns-render, ns-viewer), report the failures a user causes in
    one line instead of a traceback: a path that does not exist or cannot be written, a config.yml that is not YAML,
    a run folder without a readable checkpoint. Anything else keeps its traceback, and ``MINERF_TRACEBACK=1`` keeps
    them all. The plugin installs this when nerfstudio loads it (``minerf_ns/__init__.py``)."""
    tool = Path(sys.argv[0]).name if sys.argv else ""
    if not tool.startswith("ns-") or os.environ.get("MINERF_TRACEBACK") or getattr(sys.excepthook, "minerf", False):
        return
    default = sys.excepthook

    def hook(kind, error, trace) -> None:
        message = _user_error(error, trace)
        if message is None:
            default(kind, error, trace)
        else:
            print(f"{tool}: {message} (MINERF_TRACEBACK=1 shows the traceback)", file=sys.stderr)

    hook.minerf = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _user_error(error: BaseException, trace) -> Optional[str]:
    """One line for the failures of ``install_one_line_errors``, or None."""
    frames = {frame.f_code.co_name for frame, _ in traceback.walk_tb(trace)}
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(error, OSError) and getattr(error, "filename", None):
        return f"{error.filename}: {error.strerror}. Fix: check the path, and that its folder can be written"
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
        return f"{error.strerror} while writing outputs. Fix: free disk space, or write elsewhere (--output-dir)"
    if type(error).__module__.startswith("yaml"):
        return (
            f"the config file is not valid YAML ({str(error).splitlines()[0]}). Fix: pass the config.yml ns-train wrote"
        )
    if "eval_load_checkpoint" in frames and "size mismatch" in str(error):
        first = next(line.strip() for line in str(error).splitlines() if "size mismatch" in line)
        return (
            f"the checkpoint does not fit the model built from the dataset as it is now ({first[:160]}): the dataset "
            "changed since training (its videos or train frames). Fix: restore the dataset as the run was trained on"
        )
    if "eval_load_checkpoint" in frames and isinstance(error, (IndexError, ValueError, RuntimeError, EOFError)):
        return (
            "the run's nerfstudio_models/ folder holds no readable checkpoint (missing, or truncated: "
            f"{type(error).__name__}). Fix: point --load-config at a run whose training saved a checkpoint"
        )
    return None


def check_output_file(path: Path, tool: str, suffixes: Sequence[str]) -> None:
    """Stop before any work when ``path`` cannot become an output file of one of these suffixes: a folder, a path
    under a file, another suffix."""
    if path.is_dir():
        fail(tool, f"{path} is a folder. Fix: pass a file path ending in {' or '.join(suffixes)} (nothing written)")
    if path.suffix.lower() not in suffixes:
        found = f"'{path.suffix}'" if path.suffix else "no suffix"
        fail(tool, f"{path}: an output of this kind needs a name ending in {' or '.join(suffixes)}, not {found}. "
             "Fix: add the suffix (nothing written)")  # fmt: skip
    check_output_folder(path.parent, tool)


def check_output_folder(folder: Path, tool: str) -> None:
    """Stop before any work when ``folder`` cannot exist as a folder (it, or a parent, is a file)."""
    for parent in [folder, *folder.parents]:
        if parent.exists():
            if not parent.is_dir():
                inside = "" if parent == folder else f", so {folder} cannot be made"
                fail(tool, f"{parent} is a file, not a folder{inside}. Fix: choose another output path (nothing "
                     "written)")  # fmt: skip
            return


def fail(tool: str, message: str) -> NoReturn:
    """Stop with ``tool: message`` on stderr and exit status 1 (no traceback)."""
    sys.exit(f"{tool}: {message}")


def quiet_warnings() -> None:
    """Silence the warnings nerfstudio and torch print on every call (indexing, AMP, worker counts)."""
    warnings.filterwarnings("ignore", message=".*non-tuple sequence for multidimensional indexing.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*worker processes in total.*")
    warnings.filterwarnings("ignore", message=".*Converting a tensor with requires_grad=True.*")


def load_run(config_path: Path, tool: str, test_mode: str = "test") -> Tuple[object, object, int]:
    """(trainer config, pipeline in eval mode, step) of the run whose ``config.yml`` is ``config_path``."""
    import torch

    from nerfstudio.utils.eval_utils import eval_setup

    if not config_path.is_file():
        fail(tool, f"{config_path}: no such config. Fix: pass the config.yml that ns-train wrote (outputs/...)")
    config, pipeline, _, step = eval_setup(config_path, test_mode=test_mode)
    if not hasattr(pipeline.model, "identity_names"):
        fail(tool, f"{config_path}: not an MI-NeRF run ({config.method_name}). Fix: pass a mi-nerf* run's config.yml")
    broken = [n for n, p in pipeline.model.named_parameters() if not bool(torch.isfinite(p).all())]
    if broken:
        fix = "retrain (the trainer now skips non-finite steps) or use an earlier checkpoint"
        fail(tool, f"{config_path}: NaN/inf weights ({broken[0]}, {len(broken)} tensors): the run diverged. Fix: {fix}")
    pipeline.eval()
    return config, pipeline, step


def render_provenance(config: object, command: str, identities: Sequence[str], watermark: bool = True):
    """The provenance of what ``command`` renders from the run of ``config`` (a loaded trainer config)."""
    from minerf_ns.provenance.statement import Provenance, run_identifier

    run = run_identifier(getattr(config, "experiment_name", None), str(getattr(config, "method_name", "")),
                         str(getattr(config, "timestamp", "")))  # fmt: skip
    return Provenance(run=run, identities=tuple(identities), command=command, watermark=watermark)


def check_identities(config_path: Path, names: Sequence[Optional[str]], tool: str) -> None:
    """Stop before the model loads when a name is not among the identities the run recorded (``ns-train`` records
    them in its config); a config that cannot be read, or an older run without the record, is left to ``load_run``
    and the check after loading."""
    import unicodedata

    try:
        import yaml

        config = yaml.load(config_path.read_text(), Loader=yaml.UnsafeLoader)
        recorded = list(config.pipeline.datamanager.dataparser.identities)
    except Exception:  # noqa: BLE001 - load_run reports whatever is wrong with the config
        return
    for name in names:
        if recorded and name is not None and unicodedata.normalize("NFC", name) not in recorded:
            fail(tool, f"unknown identity {name!r}; known identities: {', '.join(recorded)}. Fix: pass one of those "
                 "(nothing written)")  # fmt: skip


def refuse_existing(path: Path, tool: str, overwrite: bool) -> None:
    """Stop when ``path`` exists (a non-empty folder or a file) and ``overwrite`` is off, or when another command is
    writing it now: nothing is touched. Then claim it for this process (``claim_output``)."""
    used = path.is_file() or (path.is_dir() and any(path.iterdir()))
    if used and not overwrite:
        fail(tool, f"{path} already exists; pass another output path or --overwrite (nothing written)")
    claim_output(path, tool)


CLAIMS = Path(tempfile.gettempdir()) / "minerf-claims"
"""One file per output being written, named after its absolute path, holding the writer's process id."""


def claim_output(path: Path, tool: str) -> None:
    """Claim ``path`` for this process until it exits, or stop in one line when a living process holds it: two
    commands writing one output would otherwise both say "wrote" while the last silently replaced the first. A claim
    left by a process that died (killed) is taken over."""
    CLAIMS.mkdir(parents=True, exist_ok=True)
    claim = CLAIMS / hashlib.sha1(str(path.absolute()).encode()).hexdigest()
    for _ in range(2):
        try:
            handle = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(claim.read_text() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                fail(tool, f"{path} is being written by another command now (process {holder}). Fix: wait for it to "
                     "finish, or pass another output path (nothing written)")  # fmt: skip
            claim.unlink(missing_ok=True)  # a dead writer's, or our own
            continue
        os.write(handle, str(os.getpid()).encode())
        os.close(handle)
        atexit.register(_release, claim, os.getpid())
        return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _release(claim: Path, pid: int) -> None:
    try:
        if claim.read_text() == str(pid):
            claim.unlink()
    except OSError:
        pass

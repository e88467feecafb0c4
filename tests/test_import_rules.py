"""The rules the file tree keeps (README, "Architecture"): imports go one way, readers load no learned module, pure
math imports no nerfstudio, the legacy tables import nothing of ours."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("minerf_ns", "dataparsers")
PURE = ("minerf_ns.contract", "minerf_ns.interaction", "minerf_ns.smoothing", "minerf_ns.encodings", "minerf_ns.orbit",
        "minerf_ns.occupancy", "minerf_ns.layout", "minerf_ns.optimizer_groups", "minerf_ns.face",
        "minerf_ns.splatting")  # fmt: skip
"""Pure math and tables: they import no nerfstudio."""


def module_files() -> Dict[str, Path]:
    """Every module of our packages by dotted name."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def imported(path: Path) -> Set[str]:
    """Every module a file imports, at any depth of the file (function-level imports count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def import_graph() -> Dict[str, Set[str]]:
    modules = module_files()
    return {name: {m for m in imported(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 80 and "minerf_ns.model" in graph["minerf_ns.config"]  # the graph is real
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]  # the check finds one


def test_readers_import_no_learned_module():
    """A fresh process imports every data reader; none of our modules it loads defines an ``nn.Module``."""
    readers = sorted(n for n in module_files() if n.startswith("dataparsers."))
    script = (
        "import importlib, inspect, sys, torch\n"
        f"for name in {readers!r}: importlib.import_module(name)\n"
        "ours = [m for n, m in list(sys.modules.items()) if n.split('.')[0] in ('minerf_ns', 'dataparsers')]\n"
        "learned = sorted(f'{m.__name__}.{k}' for m in ours for k, v in vars(m).items()\n"
        "                 if inspect.isclass(v) and issubclass(v, torch.nn.Module) and v.__module__ == m.__name__)\n"
        "print(len(ours), learned)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    count, learned = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) >= 10 and learned == "[]"


def test_pure_modules_and_readers_keep_to_their_side():
    graph = import_graph()
    for name, path in module_files().items():
        outside = imported(path)
        if name.startswith(PURE):
            assert not any(m.split(".")[0] == "nerfstudio" for m in outside), f"{name} imports nerfstudio"
        if name.startswith("dataparsers."):
            model_side = {"minerf_ns.model", "minerf_ns.conditioning", "minerf_ns.interaction", "minerf_ns.smoothing"}
            assert not (graph[name] & model_side), f"{name} imports {graph[name] & model_side}"
            assert not any(m.startswith("minerf_ns.geometry") for m in graph[name]), f"{name} imports a geometry"
    assert not any(m.startswith(PACKAGES) for m in imported(ROOT / "minerf_ns" / "legacy.py"))  # tables only

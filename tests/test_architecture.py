"""The house's rules (docs/architecture.md): stage order, no import cycles, light imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "wcatsim", "sram_models")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    cycles = _cycles(graph)
    assert not cycles, f"import cycles (break each by moving the shared piece down): {cycles}"


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert _cycles(graph) == [["a", "b"]]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_wcatsim_has_no_top_level_module_but_init_and_errors() -> None:
    modules = sorted(p.name for p in (ROOT / "wcatsim").glob("*.py"))
    assert modules == ["__init__.py", "errors.py"], modules


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        ("wcatsim.config", ("torch", "numba")),
        # the package and its Python API: names resolve lazily (torch, numba and pandas on first use)
        ("wcatsim", ("torch", "numba", "pandas")),
        ("wcatsim.api", ("torch", "numba", "pandas")),
        ("sram_models", ("numba",)),
        # `wcatsim --help` itself: no torch, numba or even pydantic (the schema loads when a command runs)
        ("cli.main", ("torch", "numba", "pydantic")),
    ],
)
def test_light_imports(module: str, heavy: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print([m for m in {heavy!r} if m in sys.modules])"
    if module == "cli.main":
        code = (
            "import sys; from click.testing import CliRunner; from cli.main import cli; "
            "assert CliRunner().invoke(cli, ['--help']).exit_code == 0; "
            f"print([m for m in {heavy!r} if m in sys.modules])"
        )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"import {module} loaded {done.stdout.strip()}"

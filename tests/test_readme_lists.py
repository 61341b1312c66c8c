"""The lists of variants in the README and the docs are the registries' names (no copy drifts from its
registry): each ``<!-- names: REGISTRY -->`` block, wherever it lives, lists exactly the registered names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _block(registry: str) -> str:
    return rf"<!-- names: {registry}\b[^>]*-->\n(.*?)<!-- /names -->"


def page_with(registry: str) -> str:
    """The text of the one page (README.md or docs/*.md) that holds the ``names: REGISTRY`` block."""
    holding = [p for p in PAGES if re.search(_block(registry), p.read_text(encoding="utf-8"), re.S)]
    where = [str(p.relative_to(ROOT)) for p in holding]
    assert len(holding) == 1, f"<!-- names: {registry} --> must be in exactly one page, found in {where}"
    return holding[0].read_text(encoding="utf-8")


def readme_names(registry: str, text: str | None = None) -> list[str]:
    """Return the names listed between ``<!-- names: REGISTRY ... -->`` and ``<!-- /names -->``.

    For a table, the backticked words of its first column; for a bullet list, those before each
    bullet's colon; otherwise every backticked word of the block.  ``text`` defaults to the page of
    README.md and docs/*.md that holds the block.
    """
    text = page_with(registry) if text is None else text
    match = re.search(_block(registry), text, re.S)
    assert match, f"no <!-- names: {registry} --> block"
    block = match.group(1)
    if block.lstrip().startswith("|"):
        rows = block.splitlines()
        body = rows[[i for i, row in enumerate(rows) if row.startswith("|--")][0] + 1:]  # below the header
        lines = [row.split("|")[1] for row in body if row.startswith("|")]
    elif block.lstrip().startswith("- "):
        lines = [line.split(":")[0] for line in block.splitlines() if line.startswith("- ")]
    else:
        lines = [block]
    return [name for line in lines for name in re.findall(r"`([^`]+)`", line)]


def _registry(name: str):
    import sram_models
    from wcatsim.config import registries

    return getattr(registries, name, None) or getattr(sram_models, name)


@pytest.mark.parametrize(
    "name", ["QUANTIZERS", "MODELS", "DATASETS", "FAULT_MODELS", "PROTECTION_SCHEMES", "TECHNOLOGIES"]
)
def test_readme_lists_exactly_the_registered_names(name: str) -> None:
    registry = _registry(name)
    listed = readme_names(name)
    assert len(listed) == len(set(listed)), f"the docs list a {registry.kind} twice: {listed}"
    assert sorted(listed) == sorted(registry.names()), (
        f"listed {registry.kind}s {sorted(listed)} != registered {sorted(registry.names())}"
    )


def test_the_reader_sees_tables_bullets_and_prose() -> None:
    text = (
        "<!-- names: A -->\n| x | y |\n|---|---|\n| `a` | `not` |\n| `b` | z |\n<!-- /names -->\n"
        "<!-- names: B -->\n- `c`, `d`: about `e`\n- `f`: g\n<!-- /names -->\n"
        "<!-- names: C -->\nModels: `h`, `i`.\n<!-- /names -->\n"
    )
    assert readme_names("A", text) == ["a", "b"]
    assert readme_names("B", text) == ["c", "d", "f"]
    assert readme_names("C", text) == ["h", "i"]

"""The README's lists of variants are the registries' names (no copy drifts from its registry)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_names(registry: str, text: str | None = None) -> list[str]:
    """Return the names the README lists between ``<!-- names: REGISTRY ... -->`` and ``<!-- /names -->``.

    For a table, the backticked words of its first column; for a bullet list, those before each
    bullet's colon; otherwise every backticked word of the block.
    """
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"<!-- names: {registry}\b[^>]*-->\n(.*?)<!-- /names -->", text, re.S)
    assert match, f"README.md has no <!-- names: {registry} --> block"
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
    assert len(listed) == len(set(listed)), f"README lists a {registry.kind} twice: {listed}"
    assert sorted(listed) == sorted(registry.names()), (
        f"README {registry.kind}s {sorted(listed)} != registered {sorted(registry.names())}"
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

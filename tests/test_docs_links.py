"""Every relative link in README.md and docs/*.md points to a file that exists, and an ``#anchor`` to a
heading of that file (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown page outside fenced code blocks, with inline code spans blanked."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "``", line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, text: str) -> list[str]:
    """``page: target (why)`` for each relative link of ``text`` that does not resolve."""
    bad = []
    for line in prose_lines(text):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... (not checked offline)
                continue
            path_part, _, anchor = target.partition("#")
            file = (page.parent / path_part).resolve() if path_part else page
            if not file.exists():
                bad.append(f"{page.name}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
                bad.append(f"{page.name}: {target} (no heading with that anchor in {file.name})")
    return bad


def test_github_anchors() -> None:
    assert slug("The main job: `wcatsim demo`, Pareto fronts and the report") == (
        "the-main-job-wcatsim-demo-pareto-fronts-and-the-report"
    )
    assert slug("SRAM technologies and fault models (`sram_models`, `wcatsim sram`)") == (
        "sram-technologies-and-fault-models-sram_models-wcatsim-sram"
    )
    assert slug("Set-up: two commands") == "set-up-two-commands"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n### b.c\n") == {"a", "a-1", "bc"}


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n## Its part\n")
    text = (
        "[ok](other.md) [ok](other.md#its-part) [ok](#here) [web](https://example.org/x#y)\n"
        "[gone](missing.md) [no anchor](other.md#nothing) [self](#nowhere)\n"
        "`[code](ignored.md)`\n```\n[fenced](ignored.md)\n```\n# Here\n"
    )
    page.write_text(text)
    assert broken_links(page, text) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#nothing (no heading with that anchor in other.md)",
        "page.md: #nowhere (no heading with that anchor in page.md)",
    ]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    bad = broken_links(page, page.read_text(encoding="utf-8"))
    assert not bad, "broken links:\n" + "\n".join(bad)

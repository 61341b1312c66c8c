"""Reading TOML, the format of presets and config layers, with one error style.

Python 3.11+ has ``tomllib``; on 3.10 the ``tomli`` backport (a declared dependency
there) provides the same module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sram_models.errors import InputError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def parse_toml(text: str, where: str, error: type[InputError] = InputError) -> dict[str, Any]:
    """``text`` as a dict; malformed TOML raises ``error`` naming ``where`` and the parser's line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where} is not valid TOML: {exc}") from None


def read_toml(path: str | Path, error: type[InputError] = InputError) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; a file that is not UTF-8 text or not TOML raises ``error``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} is not a UTF-8 text file; expected TOML") from None
    return parse_toml(text, str(path), error)

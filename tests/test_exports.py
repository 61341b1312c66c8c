"""Every name a package lists as public resolves to an object of that name (lazy exports)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package",
    ["sram_models", "wcatsim", "wcatsim.api", "wcatsim.experiments.attacks", "wcatsim.experiments.plan"],
)
def test_every_listed_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    names = module._EXPORTS
    assert names and sorted(names) == module.__all__ == dir(module)
    for name in names:
        obj = getattr(module, name)
        assert getattr(obj, "__name__", name) == name or not callable(obj), f"{package}.{name} -> {obj!r}"
    with pytest.raises(AttributeError, match="no attribute"):
        module.not_a_public_name  # noqa: B018

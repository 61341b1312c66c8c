"""Errors of the network side; all derive from :class:`sram_models.errors.InputError`."""

from sram_models.errors import InputError


class ConfigError(InputError):
    """An unknown key, a bad value or an unreadable config file."""


class CheckpointError(InputError):
    """A missing checkpoint, or one of another architecture or bit width."""


__all__ = ["InputError", "ConfigError", "CheckpointError"]

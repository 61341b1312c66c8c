"""No protection: the data bits as read."""

from sram_models.protection.registry import PLAIN, PROTECTION_SCHEMES, Scheme

NONE = PROTECTION_SCHEMES.register(
    "none", Scheme("none", PLAIN, "no protection", "-", False, "no check bits", reports=False)
)

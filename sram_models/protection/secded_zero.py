"""SECDED with word masking: a detected-uncorrectable word reads as zero."""

from sram_models.protection.registry import PROTECTION_SCHEMES, SECDED_ZERO
from sram_models.protection.secded import SecdedScheme

SECDED_ZERO_SCHEME = PROTECTION_SCHEMES.register("secded-zero", SecdedScheme(
    "secded-zero", SECDED_ZERO,
    "SECDED; a detected-uncorrectable word reads as zero",
    "word masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation), with SECDED "
    "as the detector (as in Soroush et al., arXiv:2508.12347)", True,
    "as secded",
    zeroes_words=True,
))  # fmt: skip

"""Minerva's bit masking: a faulty bit reads as the sign bit; a faulty sign bit zeroes the weight."""

from sram_models.protection.registry import BIT_MASK, PROTECTION_SCHEMES, Scheme

BIT_MASK_SCHEME = PROTECTION_SCHEMES.register("bit-mask", Scheme(
    "bit-mask", BIT_MASK,
    "a faulty bit reads as the sign bit; a faulty sign bit zeroes the weight (per-bit detection)",
    "bit masking of Reagen et al., Minerva, ISCA 2016 (stage 5, SRAM fault mitigation); Razor-style "
    "per-bit detection assumed, as Minerva does", True,
    "none in the array (detection sits in the sense amplifiers)",
))  # fmt: skip

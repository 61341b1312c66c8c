"""Flips to break with censored trials: the Kaplan–Meier median, and how a censored count reads.

A trial that did not break the model (its flip or iteration budget ran out, or the search stalled)
says only that the model survives at least that many flips: its count is right-censored.  Averaging
such counts as if they had broken biases the mean down, and leaving stalled trials out drops the
most robust ones.  The median of the flips-to-break distribution is estimated instead by Kaplan and
Meier's product-limit estimator (E. L. Kaplan and P. Meier, 1958, "Nonparametric estimation from
incomplete observations", JASA 53(282), 457-481) with the unbroken trials right-censored at their
count: S(t) = prod over break counts t_i <= t of (1 - d_i / n_i), n_i the trials still unbroken and
uncensored just before t_i (a trial censored at t_i counts as at risk at t_i).  The median is the
smallest count t with S(t) <= 0.5; where S stays above 0.5 (half the trials or more are censored
above every break), there is none, and the largest count observed is a lower bound of it.

Tie conventions, stated because flip counts are integers and tie often:

- several trials breaking at the same count t_i leave together: one factor (1 - d_i / n_i);
- a trial censored at the count where others break is still at risk there (breaks before
  censorings at a tie, the usual convention of Kaplan and Meier);
- where S(t) equals 0.5 exactly on an interval (from t_i up to the next break), the median is t_i,
  the smallest such count (no midpoint of the interval is taken).

Its 95% CI (:func:`km_median_ci`) is Brookmeyer and Crowley's (1982, "A confidence interval for the
median survival time", Biometrics 38(1), 29-41): the counts whose pointwise test of S(t) = 0.5 is not
rejected, read here from the linear Greenwood band of S, S(t) ± z·se(t): the low end is the smallest
count where the band's lower edge reaches 0.5, the high end the smallest count where its upper edge
does (none where it never does: the CI is open above).

Torch-free: the report reads summaries with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# S(t) is a product of fractions: 0.75 · 2/3 must count as reaching 0.5 exactly.
_HALF = 0.5 + 1e-12

STATUSES = ("broken", "budget", "stalled")  # per-trial status in bfa_summary.json

# The tie conventions of the module docstring, as bfa_summary.json states them beside the median.
TIE_CONVENTION = (
    "trials breaking at the same count leave together (one factor 1 - d/n); a trial censored at a count "
    "where others break is still at risk there (breaks before censorings); where S(t) = 0.5 on an "
    "interval the median is its smallest count (no midpoint)"
)


@dataclass(frozen=True)
class CensoredMedian:
    """The Kaplan–Meier median of flips to break, or its lower bound."""

    median: int | None  # smallest count t with S(t) <= 0.5; None where S stays above 0.5
    lower_bound: int | None  # None when ``median`` is known; else the largest count observed
    censored: int  # trials that did not break


def km_median(flips: Sequence[int], broken: Sequence[bool]) -> CensoredMedian:
    """Kaplan–Meier median of ``flips`` with the trials not ``broken`` right-censored at their count
    (``scipy.stats.CensoredData`` with ``scipy.stats.ecdf``)."""
    if len(flips) != len(broken):
        raise ValueError(f"{len(flips)} flip counts but {len(broken)} broken flags")
    censored = sum(1 for b in broken if not b)
    if not flips:
        return CensoredMedian(None, None, 0)
    events = [int(f) for f, b in zip(flips, broken, strict=True) if b]
    if not events:  # nothing broke: S = 1 everywhere
        return CensoredMedian(None, max(int(f) for f in flips), censored)
    from scipy.stats import CensoredData, ecdf

    right = [int(f) for f, b in zip(flips, broken, strict=True) if not b]
    sf = ecdf(CensoredData(uncensored=events, right=right)).sf
    for t, s in zip(sf.quantiles, sf.probabilities, strict=True):
        if s <= _HALF:
            return CensoredMedian(int(t), None, censored)
    return CensoredMedian(None, max(int(f) for f in flips), censored)


@dataclass(frozen=True)
class MedianCI:
    """Brookmeyer–Crowley confidence interval of the Kaplan–Meier median of flips to break."""

    low: int | None  # None: no count reaches it (S's band stays above 0.5: no trial broke, or too few)
    high: int | None  # None: the CI is open above (the band's upper edge never reaches 0.5)
    confidence: float
    method: str = "Brookmeyer-Crowley, linear Greenwood band"


def km_median_ci(flips: Sequence[int], broken: Sequence[bool], confidence: float = 0.95) -> MedianCI:
    """Confidence interval of the Kaplan–Meier median of ``flips`` (unbroken trials right-censored).

    Parameters
    ----------
    flips : sequence of int
        Flip count of every trial (for an unbroken trial, the count it reached).
    broken : sequence of bool
        Whether each trial broke the model.
    confidence : float
        Two-sided level (0.95: the 95% CI).

    Returns
    -------
    MedianCI
        ``low``: the smallest count where the lower edge of the Greenwood band of S reaches 0.5;
        ``high``: the smallest count where its upper edge does (None: open above).  Where Greenwood's
        variance is undefined (S = 0 after the last trial broke) the band is taken as S itself.
    """
    if len(flips) != len(broken):
        raise ValueError(f"{len(flips)} flip counts but {len(broken)} broken flags")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    events = [int(f) for f, b in zip(flips, broken, strict=True) if b]
    if not events:
        return MedianCI(None, None, confidence)
    import warnings

    import numpy as np
    from scipy.stats import CensoredData, ecdf

    right = [int(f) for f, b in zip(flips, broken, strict=True) if not b]
    sf = ecdf(CensoredData(uncensored=events, right=right)).sf
    with warnings.catch_warnings():  # undefined at S = 0: replaced by S below, as documented
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(confidence_level=confidence, method="linear")
    point = np.asarray(sf.probabilities, dtype=float)
    upper = np.where(np.isnan(band.high.probabilities), point, band.high.probabilities)
    lower = np.where(np.isnan(band.low.probabilities), point, band.low.probabilities)

    def first(edge: np.ndarray) -> int | None:
        hits = np.flatnonzero(edge <= _HALF)
        return int(sf.quantiles[hits[0]]) if hits.size else None

    return MedianCI(first(lower), first(upper), confidence)


def median_ci_keys(flips: Sequence[int], broken: Sequence[bool], confidence: float = 0.95) -> dict[str, Any]:
    """The keys of ``bfa_summary.json`` that give the median's CI, its method and the tie convention.

    Parameters
    ----------
    flips, broken : sequence
        As in :func:`km_median_ci`.
    confidence : float
        Two-sided level.

    Returns
    -------
    dict
        ``flips_to_break_median_ci``: ``[low, high]`` (``high`` null: open above) or null where no
        count reaches it (no trial broke, or too few); ``flips_to_break_median_ci_method``;
        ``flips_to_break_median_ties``: :data:`TIE_CONVENTION`.
    """
    ci = km_median_ci(flips, broken, confidence)
    return {
        "flips_to_break_median_ci": None if ci.low is None else [ci.low, ci.high],
        "flips_to_break_median_ci_method": f"{100 * ci.confidence:g}% {ci.method}",
        "flips_to_break_median_ties": TIE_CONVENTION,
    }


def median_ci_of(summary: Mapping[str, Any]) -> list[int | None] | None:
    """``[low, high]`` of a ``bfa_summary.json``'s median CI (computed from its per-trial flips and
    statuses where the summary predates the key); None where there is none."""
    if "flips_to_break_median_ci" in summary:
        return summary["flips_to_break_median_ci"]
    flips = list(summary.get("flips_to_break") or [])
    if not flips:
        return None
    broken = [s == "broken" for s in statuses(dict(summary))][: len(flips)]
    return median_ci_keys(flips, broken)["flips_to_break_median_ci"]


def fmt_median_ci(summary: Mapping[str, Any]) -> str:
    """``"[20, 50]"``, ``"[20, ∞)"`` where the CI is open above, ``""`` where there is none."""
    ci = median_ci_of(summary)
    if not ci or ci[0] is None:
        return ""
    return f"[{int(ci[0])}, {int(ci[1])}]" if ci[1] is not None else f"[{int(ci[0])}, ∞)"


def trial_status(broken: bool, stalled: bool) -> str:
    """``broken``, ``stalled`` (the search found no loss-raising flip) or ``budget`` (flips or iterations
    ran out)."""
    return "broken" if broken else "stalled" if stalled else "budget"


def statuses(summary: dict) -> list[str]:
    """The per-trial statuses of a ``bfa_summary.json`` (derived from ``broken``/``stalled`` in files
    written before the ``status`` key existed)."""
    if summary.get("status"):
        return list(summary["status"])
    broken = list(summary.get("broken") or [])
    stalled = list(summary.get("stalled") or [False] * len(broken))
    return [trial_status(bool(b), bool(s)) for b, s in zip(broken, stalled, strict=False)]


def fmt_count(count: int | None, censored: bool) -> str:
    """A flip count as a table shows it: ``"≥ 500"`` where the trial did not get there."""
    if count is None:
        return "—"
    return f"≥ {int(count)}" if censored else str(int(count))


def median_or_bound(summary: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(Kaplan–Meier median of flips to break, its lower bound where S stays above 0.5) of a
    ``bfa_summary.json``, each None where absent; a summary from before the median existed gets it
    computed from its per-trial flips and statuses."""
    if "flips_to_break_median" in summary or "flips_to_break_median_lower_bound" in summary:
        median = summary.get("flips_to_break_median")
        bound = summary.get("flips_to_break_median_lower_bound")
    else:
        flips = list(summary.get("flips_to_break") or [])
        km = km_median(flips, [s == "broken" for s in statuses(dict(summary))][: len(flips)])
        median, bound = km.median, km.lower_bound
    return (None if median is None else int(median)), (None if bound is None else int(bound))


def fmt_median(summary: Mapping[str, Any]) -> str:
    """``"40"`` (Kaplan–Meier median), ``"≥ 500"`` where S stays above 0.5, ``"—"`` with no trial."""
    median, bound = median_or_bound(summary)
    return fmt_count(median, False) if median is not None else fmt_count(bound, True)

"""Voltage domains: which quantized layers share one supply.

A voltage domain is a set of quantized layers whose weights sit in SRAM arrays of
their own, on one supply voltage.  ``--domains layer`` (the default) makes one
domain per quantized layer, named after it.  A domains file groups layers::

    # domains.toml: one key per domain, in the order the domains are listed
    [domains]
    front = ["conv1", "conv3", "fc"]     # exact layer names ...
    middle = ["conv2"]
    blocks = ["layer1.*", "layer2.*"]    # ... or shell-style patterns (fnmatch)

Every quantized layer must fall in exactly one domain (a layer matched by two
domains, a layer in none, or a name or pattern that matches nothing is an
error naming it).  Within a domain the layers keep the model's module order,
which is also their memory order.

**Kinds.**  A domain of kind ``weights`` (every domain above) holds weights.  With
``plan-voltage --target both`` the plan has one more domain, of kind ``buffer``:
the activation buffer (:mod:`wcatsim.memory.activations`), named
:data:`BUFFER_DOMAIN`, whose ``layers`` are the layers whose inputs it holds and
whose ``activations`` count what it stores per inference (it holds no weights).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sram_models.errors import InputError

PER_LAYER = "layer"
WEIGHTS = "weights"
BUFFER = "buffer"
KINDS = (WEIGHTS, BUFFER)
# The activation buffer's domain in a plan over both memories (plan_voltage.json, the sensitivity table).
BUFFER_DOMAIN = "activations"


@dataclass(frozen=True)
class Domain:
    """One voltage domain."""

    name: str
    """the domain's name (the layer's name for per-layer domains)"""
    layers: tuple[str, ...]
    """qualified names of its quantized layers, in module (= memory) order"""
    weights: int
    """weights stored in it (0 for the buffer)"""
    kind: str = WEIGHTS
    """``weights`` (layers' weights) or ``buffer`` (the activation buffer holding those layers' inputs)"""
    activations: int = 0
    """a buffer: activations it stores per inference (one image; 0 for a weights domain)"""

    def __post_init__(self) -> None:
        if not self.name or not self.layers:
            raise InputError("a voltage domain needs a name and at least one layer")
        if self.kind not in KINDS:
            raise InputError(f"a voltage domain's kind is weights or buffer, got {self.kind!r}")


def buffer_domain(layers: Sequence[str], activations: int) -> Domain:
    """The activation buffer's domain: it holds the inputs of ``layers``, ``activations`` per inference."""
    return Domain(BUFFER_DOMAIN, tuple(layers), 0, kind=BUFFER, activations=int(activations))


def per_layer_domains(layer_weights: Mapping[str, int]) -> list[Domain]:
    """One domain per quantized layer (``layer_weights``: name -> weight count, in module order)."""
    return [Domain(name, (name,), int(n)) for name, n in layer_weights.items()]


def group_domains(groups: Mapping[str, Sequence[str]], layer_weights: Mapping[str, int]) -> list[Domain]:
    """Domains from ``{domain name: [layer names or fnmatch patterns]}``, checked to partition the layers."""
    if not groups:
        raise InputError("the domains table is empty: give at least one domain, e.g. all = ['*']")
    owner: dict[str, str] = {}
    for domain, patterns in groups.items():
        if isinstance(patterns, str) or not isinstance(patterns, Sequence) or not patterns:
            raise InputError(
                f"domain {domain!r}: give a non-empty list of layer names or patterns, "
                f"e.g. {domain} = ['conv1']"
            )
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise InputError(f"domain {domain!r}: {pattern!r} is not a layer name or pattern")
            matched = [name for name in layer_weights if fnmatch.fnmatchcase(name, pattern)]
            if not matched:
                raise InputError(
                    f"domain {domain!r}: {pattern!r} matches no quantized layer; the layers are: "
                    + ", ".join(layer_weights)
                )
            for name in matched:
                if owner.get(name, domain) != domain:
                    raise InputError(
                        f"layer {name!r} is in two domains ({owner[name]!r} and {domain!r}): "
                        "put every layer in exactly one"
                    )
                owner[name] = domain
    missing = [name for name in layer_weights if name not in owner]
    if missing:
        raise InputError(
            "these quantized layers are in no domain: " + ", ".join(missing) + " (add each to one domain)"
        )
    out = []
    for domain in groups:
        layers = tuple(name for name in layer_weights if owner[name] == domain)
        out.append(Domain(str(domain), layers, sum(int(layer_weights[n]) for n in layers)))
    return out


def read_domains_file(path: str | Path) -> dict[str, list[str]]:
    """The ``[domains]`` table of a domains TOML file (format: module docstring), its shape checked."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"`option.domains` {path}: no such file; give 'layer' or a TOML file with a [domains] table"
        )
    from sram_models.tomlio import read_toml

    data = read_toml(path)
    groups = data.get("domains")
    unknown = sorted(set(data) - {"domains"})
    if not isinstance(groups, dict) or unknown:
        raise InputError(
            f"{path}: expected one [domains] table (name = [layers]) and nothing else"
            + (f"; found {', '.join(unknown)}" if unknown else "")
        )
    for domain, patterns in groups.items():
        if isinstance(patterns, str) or not isinstance(patterns, list) or not patterns:
            raise InputError(
                f"domain {domain!r}: give a non-empty list of layer names or patterns, "
                f"e.g. {domain} = ['conv1']"
            )
    return groups


def load_domains(spec: str | Path, layer_weights: Mapping[str, int]) -> list[Domain]:
    """``"layer"`` (one domain per layer) or the path of a domains TOML file (format: module docstring)."""
    if str(spec) == PER_LAYER:
        return per_layer_domains(layer_weights)
    return group_domains(read_domains_file(spec), layer_weights)


__all__ = [
    "BUFFER",
    "BUFFER_DOMAIN",
    "KINDS",
    "PER_LAYER",
    "WEIGHTS",
    "Domain",
    "buffer_domain",
    "group_domains",
    "load_domains",
    "per_layer_domains",
    "read_domains_file",
]

"""Control-chart rules on standardized values (z, ≈ N(0, 1) in control): the Western Electric
rules 1–4, which return the positions of the points that fire, and the EWMA and tabular CUSUM
recursions with the EWMA's exact limit. The classic chart (``spc``) applies them. No I/O here."""

from __future__ import annotations

import math
from collections.abc import Sequence

ON_CENTRE = 1e-6  # |z| below this is on the centre line: rounding noise of a constant metric


def beyond_limit(z: Sequence[float], k: float = 3.0) -> tuple[int, ...]:
    """Rule 1: the last point is beyond ±k. Returns its position, or () when it does not fire."""
    return (len(z) - 1,) if z and abs(z[-1]) > k else ()


def two_of_three(z: Sequence[float], k: float = 2.0) -> tuple[int, ...]:
    """Rule 2: 2 of the last 3 points beyond k on the same side, the last point among them."""
    return _k_of_n(z, 2, 3, k)


def four_of_five(z: Sequence[float], k: float = 1.0) -> tuple[int, ...]:
    """Rule 3: 4 of the last 5 points beyond k on the same side, the last point among them."""
    return _k_of_n(z, 4, 5, k)


def run_of_eight(z: Sequence[float], n: int = 8) -> tuple[int, ...]:
    """Rule 4: the last n points on the same side of the centre line."""
    if len(z) < n or abs(z[-1]) <= ON_CENTRE:
        return ()
    side = math.copysign(1.0, z[-1])
    tail = range(len(z) - n, len(z))
    return tuple(tail) if all(z[i] * side > ON_CENTRE for i in tail) else ()


def _k_of_n(z: Sequence[float], k: int, n: int, limit: float) -> tuple[int, ...]:
    if not z or abs(z[-1]) <= limit:
        return ()
    side = math.copysign(1.0, z[-1])
    hits = tuple(i for i in range(max(0, len(z) - n), len(z)) if z[i] * side > limit)
    return hits if len(hits) >= k else ()


# -- EWMA and CUSUM recursions ---------------------------------------------------------------------

def ewma_statistics(z: Sequence[float], lam: float = 0.2) -> list[float]:
    """E_i = λ·z_i + (1 − λ)·E_{i−1}, E_0 = 0 (no restarts)."""
    out, e = [], 0.0
    for v in z:
        e = lam * v + (1 - lam) * e
        out.append(e)
    return out


def ewma_limit(i: int, lam: float = 0.2, width: float = 4.0) -> float:
    """Exact limit of E_i in σ units: L·√(λ/(2−λ)·(1 − (1−λ)^{2i}))."""
    return width * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * i)))


def cusum_statistics(z: Sequence[float], k: float = 0.5) -> list[tuple[float, float]]:
    """Tabular CUSUM (C⁺_i, C⁻_i): C⁺_i = max(0, z_i − k + C⁺_{i−1}), C⁻_i = max(0, −z_i − k +
    C⁻_{i−1}), both starting at 0 (no restarts)."""
    out, up, down = [], 0.0, 0.0
    for v in z:
        up, down = max(0.0, v - k + up), max(0.0, -v - k + down)
        out.append((up, down))
    return out

"""Labelled anomalies for the detection benchmark: which days get which kind (from a seeded RNG),
and what each kind does to a day's file."""

from __future__ import annotations

import numpy as np
import pandas as pd
from detection_sets import DataSet, Frames

# the kinds of the first benchmark keep their RNG stream, so a seed chooses the same days for them
FIRST_KINDS = (
    "row_drop", "duplicate_load", "null_spike", "unit_change", "category_vanish", "distribution_shift",
    "stale_repeat", "schema_change",
)
LATER_KINDS = ("stuck_sensor",)
KINDS = FIRST_KINDS + LATER_KINDS
PER_KIND = 4
QUICK_PER_KIND = 2
WARMUP = 21  # first days are history only: no injection there
GAP = 4  # injected days are at least this many days apart


def rngs(seed: int, salt: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The stream of the first kinds (plan, then injections in day order) and that of the later ones."""
    main = np.random.default_rng(seed if salt == 0 else [seed, salt])
    return main, np.random.default_rng([seed, salt, 1])


def _draw(kinds: list[str], candidates: list[str], rng: np.random.Generator, used: list[int], chosen: dict[str, str]) -> None:
    for kind in kinds:
        while True:
            i = int(rng.integers(0, len(candidates)))
            if all(abs(i - j) >= GAP for j in used):
                used.append(i)
                chosen[candidates[i]] = kind
                break


def plan_injections(days: list[str], main: np.random.Generator, later: np.random.Generator, per: int) -> dict[str, str]:
    """Day -> kind: ``per`` days per kind, after warm-up, at least ``GAP`` days apart."""
    candidates = days[WARMUP:]
    if per * len(KINDS) * GAP > len(candidates):
        raise ValueError(f"{per} injections of {len(KINDS)} kinds {GAP} days apart do not fit in {len(candidates)} days")
    chosen: dict[str, str] = {}
    used: list[int] = []
    first = [k for k in FIRST_KINDS for _ in range(per)]
    main.shuffle(first)
    _draw(first, candidates, main, used, chosen)
    again = [k for k in LATER_KINDS for _ in range(per)]
    later.shuffle(again)
    _draw(again, candidates, later, used, chosen)
    return chosen


def inject(ds: DataSet, kind: str, day: pd.DataFrame, previous: pd.DataFrame,
           main: np.random.Generator, later: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """The day's data with one anomaly of ``kind``, and a note of what was done."""
    df = day.copy()
    if kind == "row_drop":
        keep = main.random(len(df)) >= 0.30
        return df[keep], "30% of rows dropped"
    if kind == "duplicate_load":
        return pd.concat([df, df], ignore_index=True), "every row twice"
    if kind == "null_spike":
        col = str(main.choice(list(ds.null_columns)))
        mask = main.random(len(df)) < 0.20
        df[col] = df[col].astype(object)
        df.loc[mask, col] = None
        return df, f"+20% nulls in {col}"
    if kind == "unit_change":
        col, change, note = ds.units[int(main.choice(len(ds.units)))]
        df[col] = change(df[col])
        return df, f"{col} {note}"
    if kind == "category_vanish":
        return ds.vanish(df, main)
    if kind == "distribution_shift":
        return ds.shift(df, main)
    if kind == "stale_repeat":
        return previous.copy(), "the previous day's file again"
    if kind == "schema_change":
        return ds.schema_changes[0 if main.random() < 0.5 else 1](df)
    if kind == "stuck_sensor":
        col = str(later.choice(list(ds.stuck_columns)))
        first = df[col].dropna()
        value = first.iloc[0] if len(first) else np.nan  # the first reading (if the very first is missing, the first there is)
        df[col] = value
        return df, f"{col} stuck at {value:g} all day"
    raise ValueError(kind)


def deliveries(ds: DataSet, frames: Frames, seed: int, per: int) -> tuple[list[str], dict[str, str], Frames, dict[str, str]]:
    """The days in order, the plan (day -> kind), the file of every day and a note per injected day."""
    days = sorted(frames)
    main, later = rngs(seed, ds.salt)
    plan = plan_injections(days, main, later, per)
    files: Frames = {}
    notes: dict[str, str] = {}
    for i, d in enumerate(days):
        frame = frames[d]
        if d in plan:
            frame, notes[d] = inject(ds, plan[d], frame, frames[days[i - 1]], main, later)
        files[d] = frame
    return days, plan, files, notes

"""One key moved, not the world: a site whose readings shift while the other sites of the same
partition stay put is a peer shift (a sensor, a feed); every site moving together, a wobble
within noise, too few rows or no key to group by is not. Then the same on real data: a daily
source, an asset copying it and a per-site summary, read through the source and Delta readers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import land_csv, write_project

from weir.incidents.peers import PeerShift, key_columns, peers, read_pair, read_source_pair
from weir.workspace import RunRequest, Workspace

MEANS = {"A": 12.0, "B": 20.0, "C": 31.0}


def readings(seed: int, *, shift: dict[str, float] | None = None, sites: str = "AB", rows: int = 100,
             sigma: float = 3.0, day: str = "2024-01-01") -> pa.Table:
    """``rows`` readings per site around its mean, ``shift`` added to some sites."""
    rng = np.random.default_rng(seed)
    site, reading = [], []
    for s in sites:
        site += [s] * rows
        reading += list(rng.normal(MEANS[s], sigma, rows) + (shift or {}).get(s, 0.0))
    return pa.table({"day": [day] * len(site), "site": site, "reading": reading, "id": list(range(len(site)))})


def days(n: int, **kwargs) -> pa.Table:
    """``n`` days of readings, each row tagged with its partition (as the readers give them)."""
    parts = [readings(100 + i, **kwargs).append_column("partition_key", pa.array([f"2024-01-{i + 1:02d}"] * 2 * 100))
             for i in range(n)]
    return pa.concat_tables(parts)


def test_one_site_shifted_while_its_peer_is_not_is_a_peer_shift():
    found = peers(readings(1), readings(2, shift={"B": 8.0}))
    assert isinstance(found, PeerShift)
    assert (found.key, found.groups, found.column) == ("site", ("B",), "reading")
    assert found.moved == pytest.approx(8.0, abs=1.0) and found.after - found.before == pytest.approx(found.moved)
    assert found.peers_moved < 0.5
    assert found.line.startswith("site B's reading mean moved +")
    assert "while its peers (site A) did not" in found.line and "a source change" in found.line


def test_every_site_moving_together_is_the_world():
    assert peers(readings(1), readings(2, shift={"A": 8.0, "B": 8.0})) is None
    assert peers(readings(1, sites="ABC"), readings(2, sites="ABC", shift={"A": 6.0, "B": 8.0, "C": 10.0})) is None


@pytest.mark.parametrize("seed", range(20))
def test_a_wobble_within_noise_is_nothing(seed):
    assert peers(readings(seed), readings(seed + 1000)) is None


def test_one_of_three_sites_shifted_is_named():
    found = peers(readings(3, sites="ABC"), readings(4, sites="ABC", shift={"C": -9.0}))
    assert found is not None and found.groups == ("C",)
    assert found.moved < 0 and "site C's reading mean moved -" in found.line and "peers (site A, B)" in found.line


def test_a_dictionary_encoded_or_integer_key_is_grouped_by_too():
    before, after = readings(3, sites="ABC"), readings(4, sites="ABC", shift={"A": 7.0})
    encoded = [t.set_column(1, "site", t.column("site").dictionary_encode()) for t in (before, after)]
    assert peers(*encoded).groups == ("A",)
    numbered = [t.set_column(1, "site", pc.index_in(t.column("site"), pa.array(["A", "B", "C"]))) for t in (before, after)]
    found = peers(*numbered)
    assert found is not None and (found.key, found.groups) == ("site", ("0",))


def test_two_of_three_moving_is_not_a_minority():
    assert peers(readings(3, sites="ABC"), readings(4, sites="ABC", shift={"B": 9.0, "C": 9.0})) is None


def test_a_move_within_a_sites_day_to_day_wobble_is_nothing_and_beyond_it_is_named():
    rng = np.random.default_rng(5)
    wandering = []  # site B's daily mean wanders by ±4 from day to day; A's by ±0.3 (its sampling)
    for i in range(7):
        day = readings(200 + i, shift={"B": float(rng.normal(0, 4))})
        wandering.append(day.append_column("partition_key", pa.array([f"d{i}"] * day.num_rows)))
    before = pa.concat_tables(wandering)
    assert peers(before, readings(300, shift={"B": 6.0})) is None  # within 1.5 wobbles of its own
    found = peers(before, readings(300, shift={"B": 30.0}))
    assert found is not None and found.groups == ("B",)


def test_a_summary_with_one_row_per_site_a_day_names_the_site_from_its_history():
    def summary(t: pa.Table) -> pa.Table:
        return t.group_by("site").aggregate([("reading", "mean")]).rename_columns(["site", "reading"])

    history = [summary(readings(400 + i)).append_column("partition_key", pa.array([f"d{i}"] * 2)) for i in range(7)]
    found = peers(pa.concat_tables(history), summary(readings(500, shift={"B": 8.0})))
    assert found is not None and (found.key, found.groups) == ("site", ("B",))


def test_no_key_column_too_small_groups_or_an_unmoved_column_is_nothing():
    rng = np.random.default_rng(6)
    plain = pa.table({"id": list(range(200)), "reading": rng.normal(20, 3, 200)})
    moved = pa.table({"id": list(range(200)), "reading": rng.normal(28, 3, 200)})
    assert peers(plain, moved) is None
    assert peers(readings(1, rows=4), readings(2, rows=4, shift={"B": 30.0})) is None  # 4 rows a site
    before, after = readings(1), readings(2, shift={"B": 8.0})
    after = after.append_column("pressure", pa.array(np.random.default_rng(7).normal(1000, 5, after.num_rows)))
    before = before.append_column("pressure", pa.array(np.random.default_rng(8).normal(1000, 5, before.num_rows)))
    assert peers(before, after, columns=["pressure"]) is None  # only the alerted column is compared
    assert peers(before, after, columns=["reading"]) is not None


def test_an_id_or_a_date_is_never_a_key():
    before, after = days(3), readings(9)
    sensors = pa.array([f"s{i % 60}" for i in range(before.num_rows)])  # 60 sensors: an id, not a dimension
    flags = pa.array([i % 2 == 0 for i in range(before.num_rows)])
    before = before.append_column("sensor", sensors).append_column("flag", flags)
    after = after.append_column("sensor", sensors[: after.num_rows]).append_column("flag", flags[: after.num_rows])
    assert key_columns(before, after) == ["site", "flag"]  # not id (unique), sensor (60), day (a date), partition_key
    small = readings(1, rows=6)  # 12 rows, 12 ids: nearly unique even if few
    assert "id" not in key_columns(small, small)


# -- real data: a daily source, a copy of it and a per-site summary ---------------------------------
PROJECT = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

readings = weir.source("readings", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def clean(readings):
    return readings


@weir.asset(partitions=days)
def by_site(clean):
    return clean.groupby("site", as_index=False)["reading"].mean()
'''
START = dt.date(2024, 1, 1)
DAYS = 8


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land(project, i: int, shift: float = 0.0) -> None:
    t = readings(700 + i, shift={"B": shift}, day=key(i))
    rows = [{"day": d, "site": s, "reading": round(r, 3)}
            for d, s, r in zip(*(t.column(c).to_pylist() for c in ("day", "site", "reading")))]
    land_csv(project, f"landing/{key(i)}.csv", rows)


@pytest.fixture(scope="module")
def recalibrated(tmp_path_factory):
    """DAYS clean days; then the last one delivered again with site B's sensor recalibrated (+8)."""
    root = tmp_path_factory.mktemp("peers")
    project = write_project(root / "project", {"assets.py": PROJECT}, "sites")
    with Workspace(root / "ws", project) as ws:
        for i in range(DAYS):
            land(project, i)
            ws.quality.ingest("readings", [key(i)])
            ws.runs.run(RunRequest(executor="inprocess", stale=True))
        land(project, DAYS - 1, shift=8.0)
        ws.quality.ingest("readings", [key(DAYS - 1)])
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
    return root / "ws", project


def test_read_through_weir_a_recalibrated_site_is_a_peer_shift_in_the_source_and_every_asset(recalibrated):
    home, project = recalibrated
    bad = key(DAYS - 1)
    with Workspace(home, project) as ws:
        store = ws.store
        with store.read():
            builds = store.runs.builds("sites", "clean", key=bad, states=("succeeded",), limit=5)
        assert len(builds) == 2  # built good, then rebuilt on the new delivery
        good_version = builds[-1].output_version
        pairs = {
            "source": read_source_pair(ws.project, store, "readings", bad, ["reading"]),
            "same day, good version": read_pair(ws.tables.get("clean"), bad, good_version, ["reading"]),
            "days before": read_pair(ws.tables.get("clean"), bad, None, ["reading"], good_key=key(DAYS - 2)),
            "summary": read_pair(ws.tables.get("by_site"), bad, None),
        }
        quiet = read_pair(ws.tables.get("clean"), key(DAYS - 2), None)
    for what, pair in pairs.items():
        assert pair is not None, what
        found = peers(*pair, columns=["reading"])
        assert found is not None and (found.key, found.groups, found.column) == ("site", ("B",), "reading"), what
        assert found.moved == pytest.approx(8.0, abs=1.5), what
    before, after = pairs["same day, good version"]
    assert after.column("site").to_pylist() == before.column("site").to_pylist()  # the same day, time-travelled
    assert pairs["days before"][0].num_rows == 200 * (DAYS - 1)
    assert quiet is not None and peers(*quiet) is None

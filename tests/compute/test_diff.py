"""Two versions of a partition's data compared: on a key, or as multisets of rows."""

from __future__ import annotations

import pyarrow as pa

from weir.compute.diff import diff_tables


def _flights(**columns) -> pa.Table:
    base = {"carrier": ["AA", "AA", "UA"], "flight": [1, 2, 1], "km": [10.0, 20.0, 30.0]}
    return pa.table({**base, **columns})


def test_the_same_rows_in_another_order_are_identical():
    before = _flights()
    after = before.take([2, 0, 1])
    for key in ((), ("carrier", "flight")):
        d = diff_tables(before, after, key=key)
        assert d.identical and (d.added, d.removed) == (0, 0)


def test_on_a_key_a_changed_value_is_one_changed_row_naming_its_column():
    before = _flights()
    after = _flights(km=[10.0, 20000.0, 30.0])
    d = diff_tables(before, after, key=["carrier", "flight"])
    assert not d.identical
    assert (d.added, d.removed, d.changed) == (0, 0, 1)
    assert d.columns == {"km": 1}
    assert d.sample["changed"] == [{"key": {"carrier": "AA", "flight": 2}, "values": {"km": {"before": 20.0, "after": 20000.0}}}]


def test_on_a_key_rows_added_and_removed_are_sampled_in_key_order():
    before = _flights()
    after = pa.table({"carrier": ["AA", "UA", "DL"], "flight": [1, 1, 7], "km": [10.0, 30.0, 5.0]})
    d = diff_tables(before, after, key=["carrier", "flight"])
    assert (d.added, d.removed, d.changed) == (1, 1, 0)
    assert d.sample == {"added": [{"carrier": "DL", "flight": 7, "km": 5.0}],
                        "removed": [{"carrier": "AA", "flight": 2, "km": 20.0}]}


def test_without_a_key_rows_are_a_multiset_and_duplicates_count():
    before = pa.table({"x": [1, 1, 2]})
    after = pa.table({"x": [1, 2, 2]})
    d = diff_tables(before, after)
    assert (d.added, d.removed, d.changed) == (1, 1, None)
    assert d.sample == {"added": [{"x": 2}], "removed": [{"x": 1}]}


def test_a_key_that_repeats_or_is_missing_falls_back_to_a_multiset_and_says_why():
    before = _flights(flight=[1, 1, 1])
    d = diff_tables(before, before, key=["carrier", "flight"])
    assert d.key == () and "not unique in the published data (1 values repeat)" in (d.note or "")
    d = diff_tables(_flights(), _flights(), key=["tail"])
    assert d.key == () and d.note == "key column 'tail' is not in the published data: rows compared as multisets"
    assert d.identical


def test_schema_changes_are_named_and_rows_compared_on_common_columns():
    before = _flights()
    after = pa.table({"carrier": ["AA", "AA", "UA"], "flight": ["1", "2", "1"], "km": [10.0, 20.0, 30.0],
                      "m": [1.0, 2.0, 3.0]})
    d = diff_tables(before, after, key=["carrier"])  # repeats: a multiset
    assert d.schema == {"added": [{"column": "m", "type": "double"}], "removed": [],
                        "retyped": [{"column": "flight", "from": "int64", "to": "string"}]}
    assert not d.identical and (d.added, d.removed) == (0, 0)  # the values read the same as text
    keyed = diff_tables(before, after, key=["carrier", "flight"])  # a key of differing types: compared as text
    assert (keyed.added, keyed.removed, keyed.changed) == (0, 0, 0)


def test_nulls_match_nulls_and_nan_matches_nan():
    before = pa.table({"k": [None, "a"], "v": [float("nan"), None]})
    d = diff_tables(before, before, key=["k"])
    assert d.identical
    after = pa.table({"k": [None, "a"], "v": [float("nan"), 1.0]})
    d = diff_tables(before, after, key=["k"])
    assert d.changed == 1 and d.sample["changed"][0] == {"key": {"k": "a"}, "values": {"v": {"before": None, "after": 1.0}}}


def test_the_json_form_has_stable_keys():
    d = diff_tables(_flights(), _flights(km=[1.0, 20.0, 30.0]), key=["carrier", "flight"]).to_json()
    assert list(d) == ["identical", "schema", "rows", "key", "note", "added", "removed", "changed", "columns", "sample"]
    assert d["rows"] == {"before": 3, "after": 3} and d["key"] == ["carrier", "flight"]


def test_a_side_without_columns_is_all_rows_added_or_removed_and_nested_values_compare():
    d = diff_tables(pa.table({}), pa.table({"x": [1, 2]}), key=["x"])
    assert (d.added, d.removed, d.sample) == (2, 0, {"added": [{"x": 1}, {"x": 2}]})
    assert d.schema["added"] == [{"column": "x", "type": "int64"}]
    nested = diff_tables(pa.table({"k": [1], "x": [[1, 2]]}), pa.table({"k": [1], "x": [[1, 3]]}), key=["k"])
    assert nested.sample["changed"] == [{"key": {"k": 1}, "values": {"x": {"before": [1, 2], "after": [1, 3]}}}]

"""AssetKey: the identity of an asset, parsed from what users write."""

from __future__ import annotations

import pytest

from weir.errors import ConfigError
from weir.model.keys import AssetKey


def test_a_bare_name_is_an_asset_of_the_default_project():
    assert AssetKey.parse("orders", "sales") == AssetKey("sales", "orders")


def test_a_qualified_name_names_its_project():
    key = AssetKey.parse("sales.orders", "flights")
    assert (key.project, key.name) == ("sales", "orders")
    assert str(key) == "sales.orders"


def test_local_is_the_bare_name_in_its_own_project_and_qualified_elsewhere():
    key = AssetKey("sales", "orders")
    assert key.local("sales") == "orders"
    assert key.local("flights") == "sales.orders"


def test_keys_are_frozen_hashable_and_ordered_by_project_then_name():
    keys = [AssetKey("b", "a"), AssetKey("a", "z"), AssetKey("a", "b")]
    assert sorted(keys) == [AssetKey("a", "b"), AssetKey("a", "z"), AssetKey("b", "a")]
    assert {AssetKey("a", "b"), AssetKey.parse("a.b", "x")} == {AssetKey("a", "b")}
    with pytest.raises(AttributeError):
        keys[0].name = "c"  # type: ignore[misc]


@pytest.mark.parametrize("text", ["", ".orders", "sales.", "a.b.c", "sales..orders", "sales.1orders", "my-project.x",
                                  "orders table"])
def test_anything_else_is_refused_naming_the_value(text):
    with pytest.raises(ConfigError) as err:
        AssetKey.parse(text, "sales")
    assert repr(text) in str(err.value)


def test_a_key_made_directly_is_checked_too():
    with pytest.raises(ConfigError):
        AssetKey("", "orders")

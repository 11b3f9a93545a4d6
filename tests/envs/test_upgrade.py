"""The pins a rehearsal applies: parsed from ``--upgrade`` and requirements files, and applied to
an environment's snapshot with each pin's origin (a URL, a local wheel, the index)."""

from __future__ import annotations

import pytest
from test_rebuild_env import write_wheel

from weir.envs.snapshot import EnvironmentSnapshot, Origin
from weir.envs.upgrade import apply, parse_pin, read_requirements
from weir.errors import UsageError

HERE = EnvironmentSnapshot(python="3.11.7 (cpython)", platform="Linux", packages={"pandas": "2.2.3", "units": "1.0"},
                           origins={"units": Origin(kind="file", url="file:///nowhere/units-1.0-py3-none-any.whl")})


def test_a_pin_is_one_exact_version_or_a_url_whose_file_names_it():
    assert (parse_pin("Pandas==2.3.0").name, parse_pin("Pandas==2.3.0").version) == ("pandas", "2.3.0")
    wheel = parse_pin("units @ file:///w/units-2.0-py3-none-any.whl")
    assert (wheel.version, wheel.origin.kind, wheel.origin.url) == ("2.0", "file", "file:///w/units-2.0-py3-none-any.whl")
    assert parse_pin("units @ https://files.example/units-2.1.tar.gz").version == "2.1"
    for bad, said in [("pandas>=2", "not one exact version"), ("pandas==2.*", "not one exact version"),
                      ("pandas", "not one exact version"), ("pan das", "is not a pin"),
                      ("units @ https://files.example/archive", "the version is not in the file name")]:
        with pytest.raises(UsageError, match=said):
            parse_pin(bad)


def test_a_requirements_file_names_the_line_of_what_it_cannot_take(tmp_path):
    pins = tmp_path / "pins.txt"
    pins.write_text("# the upgrade\n--find-links wheels\n\npandas==2.3.0  # newer\nunits==2.0\n")
    found, folders = read_requirements(pins)
    assert [(p.name, p.version) for p in found] == [("pandas", "2.3.0"), ("units", "2.0")]
    assert folders == [tmp_path / "wheels"]
    pins.write_text("pandas==2.3.0\n-r other.txt\n")
    with pytest.raises(UsageError) as err:
        read_requirements(pins)
    assert str(err.value).startswith(f"{pins}:2: '-r' is not taken in a rehearsal")
    pins.write_text("# nothing\n")
    with pytest.raises(UsageError, match="pins nothing to rehearse"):
        read_requirements(pins)
    with pytest.raises(UsageError, match="cannot read requirements file"):
        read_requirements(tmp_path / "missing.txt")


def test_applied_pins_come_from_a_wheel_found_locally_else_the_index(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    two = write_wheel(wheels, "units", "2.0", {"units/__init__.py": ""})
    shadow = apply(HERE, [parse_pin("units==2.0"), parse_pin("pandas==2.3.0"), parse_pin("numpy==2.0.0")], [wheels])
    assert shadow.packages == {"numpy": "2.0.0", "pandas": "2.3.0", "units": "2.0"}
    assert shadow.origin("units") == Origin(kind="file", url=two.resolve().as_uri())
    assert shadow.origin("pandas") == Origin() == shadow.origin("numpy")
    assert shadow.id != HERE.id and (shadow.python, shadow.platform) == (HERE.python, HERE.platform)

    beside = apply(EnvironmentSnapshot(**{**HERE.__dict__, "origins": {"units": Origin(
        kind="file", url=(wheels / "units-1.0-py3-none-any.whl").as_uri())}}), [parse_pin("units==2.0")])
    assert beside.origin("units").url == two.resolve().as_uri()  # beside the wheel 1.0 came from


def test_pinning_what_is_installed_changes_nothing_and_a_package_pinned_twice_is_refused():
    assert apply(HERE, [parse_pin("units==1.0"), parse_pin("pandas==2.2.3")]).id == HERE.id
    with pytest.raises(UsageError, match="units is pinned twice: 2.0 and 3.0"):
        apply(HERE, [parse_pin("units==2.0"), parse_pin("units==3.0")])

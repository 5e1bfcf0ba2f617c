"""Walk table.json row by row and check the profile list agrees with it."""

from __future__ import annotations

import re

import pytest

from trainchain.errors import ConfigError
from trainchain.profiles import PROFILES, Profile, get_profile
from trainchain.profiles.table import (
    env_packages,
    load_table,
    package_name,
    profile_names,
    profile_packages,
)

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\d+(\.\d+)*$")
TABLE = load_table()


def test_profile_list_matches_the_table_in_order_with_generic_last() -> None:
    assert [p.name for p in PROFILES] == ["keras-legacy", "keras", "pytorch", "sklearn", "generic"]
    assert sorted(p.name for p in PROFILES) == sorted(profile_names())
    for profile in PROFILES:
        assert get_profile(profile.name) is profile
        assert profile.framework == TABLE["profiles"][profile.name]["framework"]
        assert profile.detect.__doc__  # every hook says when it runs and what it returns
    assert Profile.detect.__doc__ and "Runs in job2" in Profile.detect.__doc__


@pytest.mark.parametrize("name", list(TABLE["profiles"]))
def test_profile_row(name: str) -> None:
    row = TABLE["profiles"][name]
    assert row["description"] and row["framework"]
    packages = profile_packages(name)
    if name == "generic":
        assert packages == ()
    else:
        assert packages, f"{name} has no packages"
    for pin in packages:
        assert PIN.match(pin), f"{name}: {pin!r} is not pinned with =="
    names = [package_name(p) for p in packages]
    assert len(names) == len(set(names)), f"{name} pins a package twice"
    assert env_packages(name) == packages
    assert get_profile(name).packages() == packages


@pytest.mark.parametrize("module", list(TABLE["imports"]))
def test_import_row(module: str) -> None:
    pin = TABLE["imports"][module]
    assert PIN.match(pin), f"imports.{module}: {pin!r} is not pinned with =="
    generic = env_packages("generic", (module,))
    assert generic == (pin,)
    for name in profile_names():  # a profile's own pin wins over the import table's
        packages = env_packages(name, (module,))
        own = {package_name(p): p for p in profile_packages(name)}
        expected = own.get(package_name(pin), pin)
        assert expected in packages
        assert sum(package_name(p) == package_name(pin) for p in packages) == 1


def test_keras_profiles_pin_the_promised_versions() -> None:
    legacy = {package_name(p): p for p in profile_packages("keras-legacy")}
    assert legacy["tensorflow-cpu"].startswith("tensorflow-cpu==2.15")
    assert legacy["keras"].startswith("keras==2.")
    assert "keras-preprocessing" in legacy and "pillow" in legacy and "scipy" in legacy
    modern = {package_name(p): p for p in profile_packages("keras")}
    assert modern["keras"].startswith("keras==3.")


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="keras-legacy") as info:
        get_profile("tensorflow")
    assert "profile: in trainchain.yaml" in info.value.message


def test_unknown_imports_add_nothing() -> None:
    assert env_packages("sklearn", ("numpy", "my_local_pkg")) == profile_packages("sklearn")

"""Every registered profile: its pins, import pins, order, and the knobs it owns."""

from __future__ import annotations

import re

import pytest

from trainchain.errors import ConfigError
from trainchain.profiles import (
    Profile,
    env_packages,
    framework_packages,
    get_profile,
    import_pins,
    package_name,
    profile_names,
    profile_packages,
    profiles,
)

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\d+(\.\d+)*$")


def test_profiles_are_asked_in_order_with_generic_last() -> None:
    assert profile_names() == ["keras-legacy", "keras", "pytorch", "sklearn", "generic"]
    for profile in profiles():
        assert get_profile(profile.name) is profile
        assert profile.detect.__doc__  # every hook says when it runs and what it returns
    assert Profile.detect.__doc__ and "Runs in job2" in Profile.detect.__doc__


@pytest.mark.parametrize("name", profile_names())
def test_profile_pins(name: str) -> None:
    profile = get_profile(name)
    assert profile.description and profile.framework
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
    for key, value in profile.image_env.items():
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) and "\n" not in value


@pytest.mark.parametrize("module", sorted(import_pins()))
def test_import_pin(module: str) -> None:
    pin = import_pins()[module]
    assert PIN.match(pin), f"import {module}: {pin!r} is not pinned with =="
    generic = env_packages("generic", (module,))
    assert generic == (pin,)
    for name in profile_names():  # a profile's own pin wins over the import pins
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
    assert get_profile("keras").image_env["KERAS_BACKEND"] == "tensorflow"
    assert "KERAS_BACKEND" not in get_profile("keras-legacy").image_env  # Keras 2 has one


def test_framework_packages_come_from_the_profiles() -> None:
    owned = framework_packages()
    assert {"tensorflow", "tf-keras", "torch", "scikit-learn", "keras-preprocessing"} <= owned
    assert "pandas" not in owned  # a project's own pandas pin stays


def test_only_keras_profiles_have_knobs() -> None:
    for profile in profiles():
        assert bool(profile.knob_names) == (profile.framework == "keras"), profile.name


def test_pytorch_warns_without_a_cpu_wheel() -> None:
    torch = get_profile("pytorch")
    assert "--wheels" in torch.build_warnings(())[0]
    assert torch.build_warnings(("torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl",)) == []
    assert get_profile("sklearn").build_warnings(()) == []


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="keras-legacy") as info:
        get_profile("tensorflow")
    assert "profile: in trainchain.yaml" in info.value.message


def test_unknown_imports_add_nothing() -> None:
    assert env_packages("sklearn", ("numpy", "my_local_pkg")) == profile_packages("sklearn")

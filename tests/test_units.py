"""The files that install reeld into a desktop session: the systemd user unit, the D-Bus activation
file, and ``make install`` / ``make uninstall`` laying them out for one user."""

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bus import PrivateBus, call, start_bus, wait_for_name
from tests.support.reeld import BUS_NAME
from tests.support.tools import require_command

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "reeld.service"
ACTIVATION_FILE = REPO / "dbus" / f"{BUS_NAME}.service"
INTERFACE_XML = REPO / "dbus" / f"{BUS_NAME}.xml"
DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


def _fake_home(root: Path) -> Path:
    """A home with an executable ~/.local/bin/reeld, which ``verify`` insists on for ExecStart=%h/…"""
    home = root / "home"
    binary = home / ".local" / "bin" / "reeld"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return home


def _systemd_analyze(unit: Path, home: Path, runtime: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tool = require_command("systemd-analyze", "systemd")
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "SYSTEMD_LOG_LEVEL"):
        env.pop(name, None)
    return subprocess.run(
        [tool, *args, "--user", str(unit)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _unit_settings(path: Path) -> dict[str, list[str]]:
    """Every Key=value of a unit file (keys may repeat, so not configparser)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def _activation_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser["D-BUS Service"]


# -- the systemd user unit ---------------------------------------------------------------------------


def test_unit_passes_systemd_analyze_verify_without_a_word(tmp_path: Path) -> None:
    result = _systemd_analyze(UNIT, _fake_home(tmp_path), tmp_path / "runtime", "verify", "--man=no")

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_unit_verify_notices_a_missing_binary(tmp_path: Path) -> None:
    # Guards the test above: verify does read the unit and check ExecStart (no binary in this home).
    (tmp_path / "home").mkdir()
    result = _systemd_analyze(UNIT, tmp_path / "home", tmp_path / "runtime", "verify", "--man=no")

    assert "is not executable" in result.stdout + result.stderr


def test_unit_security_exposure_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _systemd_analyze(UNIT, _fake_home(tmp_path), tmp_path / "runtime", "security", "--offline=true")

    assert result.returncode == 0, result.stderr
    overall = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert overall, result.stdout
    with capsys.disabled():
        print(f"\n[systemd-analyze security] {overall[0].lstrip('→ ').strip()}")


def test_unit_is_a_dbus_service_for_reelds_name() -> None:
    settings = _unit_settings(UNIT)

    assert settings["Type"] == ["dbus"]
    assert settings["BusName"] == [BUS_NAME]
    assert settings["ExecStart"] == ["%h/.local/bin/reeld"]
    assert settings["WantedBy"] == ["default.target"]
    assert settings["Restart"] == ["on-failure"]


# -- the D-Bus activation file ------------------------------------------------------------------------


def test_activation_file_names_the_bus_name_and_the_unit() -> None:
    entry = _activation_entry(ACTIVATION_FILE)

    assert entry["Name"] == BUS_NAME
    assert entry["SystemdService"] == UNIT.name
    assert shlex.split(entry["Exec"])[0].startswith("/"), "dbus-daemon runs Exec= without a PATH search"
    assert ACTIVATION_FILE.name == f"{entry['Name']}.service", "the bus finds the file by this name"


# -- make install / make uninstall ----------------------------------------------------------------------


def _install_env(home: Path, runtime: Path) -> dict[str, str]:
    """The developer's environment with a temp HOME: no XDG or bus variables that would send files
    (or a daemon-reload) elsewhere, and pip's real cache so wheels are reused."""
    pip_cache = os.environ.get("PIP_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "DBUS_", "MAKE", "MFLAGS")) and key not in {"VIRTUAL_ENV", "PYTHON"}
    }
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime), PIP_CACHE_DIR=pip_cache)
    return env


def _make(target: str, env: dict[str, str]) -> None:
    make = require_command("make", "make")
    # The interpreter the test venv was made from: what `make install` builds the user's venv with.
    python = getattr(sys, "_base_executable", sys.executable)
    result = subprocess.run(
        [make, "-C", str(REPO), target, f"PYTHON={python}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"make {target} failed:\n{result.stdout}\n{result.stderr}"


def _activate_installed_reeld(services_file: Path) -> PrivateBus:
    """Bus activation through the installed activation file starts the installed reeld (left running)."""
    bus: PrivateBus = start_bus("session")
    try:
        shutil.copy(services_file, bus.services_dir / services_file.name)
        bus.reload_config()
        call(bus.address, *DBUS, "StartServiceByName", "su", (BUS_NAME, 0), timeout=60)
    except BaseException:
        bus.stop()
        raise
    return bus


@pytest.mark.timeout(900)
def test_make_install_lays_out_a_working_user_install_and_uninstall_removes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _install_env(home, tmp_path / "runtime")
    bindir = home / ".local" / "bin"
    venv = home / ".local" / "share" / "reeld" / "venv"
    unit = home / ".config" / "systemd" / "user" / "reeld.service"
    services_file = home / ".local" / "share" / "dbus-1" / "services" / f"{BUS_NAME}.service"
    xml = home / ".local" / "share" / "dbus-1" / "interfaces" / f"{BUS_NAME}.xml"

    _make("install", env)

    for command in ("reeld", "reelctl"):
        assert (bindir / command).resolve() == venv / "bin" / command
    version = subprocess.run(
        [bindir / "reeld", "--version"], capture_output=True, text=True, timeout=60, env=env
    )
    assert version.stdout.strip().startswith("reeld "), version.stderr
    assert not (venv / "bin" / "pytest").exists(), "a user's install gets the runtime dependencies only"
    installed_unit = _unit_settings(unit)
    assert installed_unit["ExecStart"] == [str(bindir / "reeld")]
    assert {k: v for k, v in installed_unit.items() if k != "ExecStart"} == {
        k: v for k, v in _unit_settings(UNIT).items() if k != "ExecStart"
    }
    verify = _systemd_analyze(unit, home, tmp_path / "runtime", "verify", "--man=no")
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    activation = _activation_entry(services_file)
    assert (activation["Name"], activation["Exec"]) == (BUS_NAME, str(bindir / "reeld"))
    if INTERFACE_XML.exists():
        assert xml.read_bytes() == INTERFACE_XML.read_bytes()
    bus = _activate_installed_reeld(services_file)
    try:
        _make("uninstall", env)
        # The daemon the bus started ran from the venv just removed: uninstall stopped it.
        wait_for_name(bus.address, BUS_NAME, owned=False, timeout=20)
    finally:
        bus.stop()

    leftovers = [
        path
        for path in (bindir / "reeld", bindir / "reelctl", unit, services_file, xml, venv)
        if path.exists()
    ]
    assert leftovers == []
    assert not (bindir / "reeld").is_symlink()

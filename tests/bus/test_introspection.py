"""dbus/io.github.reeld.Reeld1.xml is the frontends' source of truth: the code implements exactly it,
the daemon serves exactly it, and the generators frontends use accept it."""

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from dbus_fast import introspection as intr
from dbus_fast.service import ServiceInterface

from reeld.bus.objects import AccountInterface, LibraryInterface, ManagerInterface, SourceInterface
from reeld.fakes.media_folder import make_sample_folder
from tests.conftest import StartReeld
from tests.support.bus import PrivateBus, call
from tests.support.cli import gdbus
from tests.support.tools import require_command, require_qdbusxml2cpp

XML = Path(__file__).parents[2] / "dbus" / "io.github.reeld.Reeld1.xml"
NAME = "io.github.reeld.Reeld1"
ROOT = "/io/github/reeld/Reeld1"
CLASSES = {
    f"{NAME}.Manager": ManagerInterface,
    f"{NAME}.Account": AccountInterface,
    f"{NAME}.Source": SourceInterface,
    f"{NAME}.Library": LibraryInterface,
}


def file_interfaces() -> dict[str, intr.Interface]:
    return {i.name: i for i in intr.Node.parse(XML.read_text()).interfaces}


def shape(interface: intr.Interface, names: bool) -> dict[str, object]:
    """What the code must agree on: members, types, directions, access (and arg names when asked)."""

    def args(items: list[intr.Arg]) -> list[tuple[object, ...]]:
        return [
            (a.direction.value if a.direction else "out", a.signature) + ((a.name,) if names else ())
            for a in items
        ]

    return {
        "methods": {m.name: args(m.in_args) + args(m.out_args) for m in interface.methods},
        "signals": {s.name: args(s.args) for s in interface.signals},
        "properties": {p.name: (p.signature, p.access.value) for p in interface.properties},
    }


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_code_implements_exactly_the_xml(name: str) -> None:
    instance = CLASSES[name].__new__(CLASSES[name])
    ServiceInterface.__init__(instance, name)
    generated = ServiceInterface.introspect(instance)  # from the decorators, not the file
    expected = file_interfaces()[name]
    assert shape(generated, names=False) == shape(expected, names=False)
    # In-argument names are the code's parameter names.
    for method in generated.methods:
        file_method = next(m for m in expected.methods if m.name == method.name)
        assert [a.name for a in method.in_args] == [a.name for a in file_method.in_args]


def test_every_container_argument_has_its_qt_type() -> None:
    for interface in file_interfaces().values():
        for method in interface.methods:
            for index, arg in enumerate(method.out_args):
                if arg.signature in ("a{sv}", "aa{sv}"):
                    assert f"org.qtproject.QtDBus.QtTypeName.Out{index}" in method.annotations, method.name
            for index, arg in enumerate(method.in_args):
                if arg.signature in ("a{sv}", "aa{sv}"):
                    assert f"org.qtproject.QtDBus.QtTypeName.In{index}" in method.annotations, method.name
        assert interface.annotations.get("org.gtk.GDBus.DocString")


def served(address: str, path: str) -> dict[str, intr.Interface]:
    xml = gdbus(address, "introspect", "--dest", NAME, "--object-path", path, "--xml")
    return {i.name: i for i in intr.Node.parse(xml).interfaces if i.name.startswith(NAME)}


def with_annotations(interface: intr.Interface) -> ET.Element:
    element = interface.to_xml()
    ET.indent(element)
    return element


async def test_the_daemon_serves_the_file(
    private_bus: PrivateBus, daemon: StartReeld, tmp_path: Path
) -> None:
    sample = make_sample_folder(tmp_path / "media", movies=3, shows=1, seasons=1, episodes=2)
    daemon()
    (account,) = call(
        private_bus.address, NAME, ROOT, f"{NAME}.Manager", "AddLocalFolder", "s", (str(sample.root),)
    )
    source = account.replace("/accounts/", "/sources/")
    expected = file_interfaces()
    for path in (ROOT, account, source):
        for name, interface in served(private_bus.address, path).items():
            assert ET.tostring(with_annotations(interface)) == ET.tostring(with_annotations(expected[name]))
    root = gdbus(private_bus.address, "introspect", "--dest", NAME, "--object-path", ROOT, "--xml")
    assert "org.freedesktop.DBus.ObjectManager" in root


def test_gdbus_codegen_output_compiles(tmp_path: Path) -> None:
    codegen = require_command("gdbus-codegen", "libglib2.0-dev-bin")
    require_command("pkg-config", "pkg-config")
    subprocess.run(
        [
            codegen,
            "--interface-prefix",
            "io.github.reeld.",
            "--c-namespace",
            "Reeld",
            "--generate-c-code",
            "reeld-gen",
            "--generate-docbook",
            "doc",
            str(XML),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    flags = subprocess.run(
        ["pkg-config", "--cflags", "gio-2.0", "gio-unix-2.0"], check=True, capture_output=True, text=True
    )
    result = subprocess.run(
        [
            "gcc",
            "-c",
            "-Wall",
            "-Werror",
            "-Wno-unused-parameter",
            *flags.stdout.split(),
            "reeld-gen.c",
            "-o",
            "reeld-gen.o",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    docs = (tmp_path / "doc-io.github.reeld.Reeld1.Manager.xml").read_text()
    assert "Search titles across every source" in docs


def test_qdbusxml2cpp_generates_a_proxy_without_warnings(tmp_path: Path) -> None:
    tool = require_qdbusxml2cpp()
    result = subprocess.run(
        [tool, "-p", "reeld_proxy", str(XML)], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    header = (tmp_path / "reeld_proxy.h").read_text()
    assert "QList<QVariantMap>" in header and "ListItems" in header

"""The interfaces the daemon serves come from ``dbus/io.github.reeld.Reeld1.xml`` (installed in the
package as ``interfaces.xml``), doc strings and Qt type annotations included, so what clients
introspect is exactly the file frontends generate code from. A test holds the decorated methods
and properties in ``objects.py`` to the same file, member by member."""

import functools
from importlib.resources import files

from dbus_fast import introspection as intr


@functools.cache
def served_interfaces() -> dict[str, intr.Interface]:
    text = files("reeld.bus").joinpath("interfaces.xml").read_text(encoding="utf-8")
    return {interface.name: interface for interface in intr.Node.parse(text).interfaces}


@functools.cache
def method_signatures() -> dict[tuple[str, str], str]:
    """Each served method's argument signature, by (interface, method)."""
    return {
        (interface.name, method.name): method.in_signature
        for interface in served_interfaces().values()
        for method in interface.methods
    }

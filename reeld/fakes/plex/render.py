"""One data model, two wire formats: Plex XML (the default) and JSON (``Accept: application/json``).

A response is a root element with attributes and children. In XML every child is an element with
its tag; in JSON the children are grouped into arrays named by the child's ``json_key`` (metadata
items, whose XML tags are ``Video``, ``Directory`` or ``Track``, all go under ``Metadata``).
Attribute values are typed in JSON (numbers, booleans) and text in XML (booleans as ``1``/``0``).
``None`` values are left out in both, as real servers leave out unset attributes.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

JSON, XML = "json", "xml"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
PMS_XML_TYPE = "text/xml;charset=utf-8"
JSON_TYPE = "application/json"

_NEEDS_ESCAPE = re.compile(r'[&<>"\n\r\t]')
_XML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def wants_json(accept: str | None) -> bool:
    """True when the client asked for JSON; XML otherwise, as a real server decides."""
    return bool(accept) and "application/json" in str(accept)


def xml_value(value: object) -> str:
    if value.__class__ is str:
        text = str(value)
        return text.translate(_XML_ESCAPES) if _NEEDS_ESCAPE.search(text) else text
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


def xml_attrs(attrs: Mapping[str, object]) -> str:
    """`` k="v"`` pairs, each with its leading space; ``None`` values left out."""
    return "".join([f' {name}="{xml_value(value)}"' for name, value in attrs.items() if value is not None])


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def compact(attrs: Mapping[str, object]) -> dict[str, object]:
    return {name: value for name, value in attrs.items() if value is not None}


@dataclass
class Node:
    """An element: XML tag, attributes, children, and items already rendered in the response format.

    ``json_key`` names the child's array in its parent's JSON (the tag by default); a ``single``
    child is a JSON object instead of an array (``"Meta": {…}``).
    """

    tag: str
    attrs: Mapping[str, object] = field(default_factory=dict)
    children: Sequence["Node"] = ()
    fragments: Sequence[str] = ()
    fragment_key: str = "Metadata"
    json_key: str | None = None
    single: bool = False

    def to_json(self) -> str:
        text = json_text(compact(self.attrs))
        groups: dict[str, list[str]] = {}
        singles: set[str] = set()
        for child in self.children:
            key = child.json_key or child.tag
            groups.setdefault(key, []).append(child.to_json())
            if child.single:
                singles.add(key)
        if self.fragments:
            groups.setdefault(self.fragment_key, []).extend(self.fragments)
        if not groups:
            return text
        extra = ",".join(
            f"{json_text(key)}:{values[0] if key in singles else '[' + ','.join(values) + ']'}"
            for key, values in groups.items()
        )
        return f"{text[:-1]}{',' if len(text) > 2 else ''}{extra}}}"

    def to_xml(self) -> str:
        attrs = xml_attrs(self.attrs)
        if not self.children and not self.fragments:
            return f"<{self.tag}{attrs}/>"
        inner = "\n".join([*(child.to_xml() for child in self.children), *self.fragments])
        return f"<{self.tag}{attrs}>\n{inner}\n</{self.tag}>"


def document(fmt: str, node: Node) -> bytes:
    """A PMS response: the root element in XML, ``{"MediaContainer": {…}}`` in JSON."""
    if fmt == JSON:
        return f'{{"{node.tag}":{node.to_json()}}}'.encode()
    return f"{XML_DECLARATION}{node.to_xml()}\n".encode()


def tree(fmt: str, node: Node) -> bytes:
    """A plex.tv response: the root element in XML, the bare object in JSON (``<user>`` → ``{…}``)."""
    if fmt == JSON:
        return node.to_json().encode()
    return f"{XML_DECLARATION}{node.to_xml()}\n".encode()

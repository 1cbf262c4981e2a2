"""Servers' JSON listings decoded straight into typed structs (msgspec): fast, and lenient where
it must be.

The fast path skips every field reeld does not read instead of building it into dicts. A field of
another type than the server's API says (a proxy's rewrite, a plugin's field) would make that path
refuse the whole answer; one odd item must not stop a sync for good, so such an answer is decoded
again field by field, and what is of the wrong type is left at its default. The shape of the answer
itself (a listing whose items are not a list) is still an error.
"""

import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import orjson

S = TypeVar("S", bound=msgspec.Struct)


def typed_decoder(into: type[S]) -> Callable[[bytes], S]:
    """A function decoding a JSON body into ``into``; raises ``msgspec.DecodeError`` when the body
    is not JSON, ``msgspec.ValidationError`` when it is not of the shape of ``into`` at all."""
    fast = msgspec.json.Decoder(into, strict=False).decode  # strict=False: "1999" is a number too

    def decode(body: bytes) -> S:
        try:
            return fast(body)
        except msgspec.ValidationError:
            converted: S = leniently(orjson.loads(body), into, frame=True)
            return converted

    return decode


def leniently(value: Any, into: Any, frame: bool = False) -> Any:
    """``value`` (decoded JSON) as the type ``into``. In the answer's ``frame`` (the structs around
    its lists of items) every field must be of its type; in an item, a field of another type is left
    at its default; in a list of items, an element that is no item is left out."""
    struct = _struct_of(into)
    if struct is None or not isinstance(value, dict):
        return msgspec.convert(value, into, strict=False)
    kept: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        if field.encode_name not in value:
            continue
        try:
            kept[field.name] = _field_value(value[field.encode_name], field.type, frame)
        except msgspec.ValidationError as exc:
            if frame:
                raise msgspec.ValidationError(f"{exc} (in `{field.encode_name}`)") from exc
    try:
        return struct(**kept)
    except TypeError as exc:  # a required field missing
        raise msgspec.ValidationError(str(exc)) from exc


def _field_value(raw: Any, into: Any, frame: bool) -> Any:
    if typing.get_origin(into) is not list:
        return leniently(raw, into, frame)
    if not isinstance(raw, list):
        raise msgspec.ValidationError(f"Expected `array`, got `{type(raw).__name__}`")
    (element,) = typing.get_args(into)
    return convert_each(raw, element)


def convert_each(values: Any, into: type[S]) -> list[S]:
    """Each of ``values`` (decoded JSON) as ``into``, leniently; what is no ``into`` at all is left out."""
    if not isinstance(values, list):
        return []
    return [converted for value in values if (converted := _or_none(value, into)) is not None]


def _or_none(value: Any, into: Any) -> Any:
    try:
        return leniently(value, into)
    except msgspec.ValidationError:
        return None


def _struct_of(into: Any) -> type[msgspec.Struct] | None:
    """The struct type ``into`` is, or is one of (``X | None``)."""
    if isinstance(into, type) and issubclass(into, msgspec.Struct):
        return into
    if isinstance(into, types.UnionType) or typing.get_origin(into) is typing.Union:
        structs = [arg for arg in typing.get_args(into) if _struct_of(arg) is not None]
        return structs[0] if len(structs) == 1 else None
    return None

"""Item lists sent as D-Bus wire bytes, each item's bytes kept for the next page that holds it.

Why: under 20 busy clients (``bench/bench_bus_load.py``), marshalling 200-item pages on the event
loop was a third of the time the daemon held the GIL, and converting rows to ``a{sv}`` on the
readers a fifth more (py-spy ``--gil``). An item's ``a{sv}`` depends only on its row (watch state
and counts included) and the artwork paths kept for it, and frontends read the same items again
and again (every scroll, every ``ItemsChanged``). So each item's marshalled entries are kept, keyed
by its row, and a page is those bytes joined on the reader thread; the loop only adds a header.

dbus-fast has no way to send a body marshalled elsewhere: ``WireReply`` overrides its message's
``_marshall`` (dbus-fast is pinned to 5.2.x; ``tests/bus/test_wire.py`` checks the bytes against
its own marshaller, and every bus test reads them with a real client).
"""

import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable

from dbus_fast import Message, MessageType, Variant
from dbus_fast._private.marshaller import Marshaller

from reeld.errors import ReeldError

U32 = struct.Struct("<I")
#: The D-Bus specification's largest array (dbus-daemon drops a connection that sends a larger one).
MAX_ARRAY_BYTES = 64 * 1024 * 1024
#: What keeping one item's bytes costs beside them (bytes object, tuple, ints, the dict's slot).
ENTRY_OVERHEAD_BYTES = 160
#: Zero bytes for padding, by length (at most 7).
PAD = tuple(bytes(n) for n in range(8))


class WireItems:
    """The marshalled body of an ``aa{sv}`` list (the only argument of a reply), and its length."""

    __slots__ = ("body", "count")
    signature = "aa{sv}"

    def __init__(self, body: bytes, count: int) -> None:
        self.body, self.count = body, count

    def __len__(self) -> int:
        return self.count


def join_items(entries: Iterable[bytes]) -> bytes:
    """An ``aa{sv}`` body from the items' marshalled entries (each as marshalled from an offset
    that is a multiple of 8, which ``entries_of`` gives)."""
    parts: list[bytes] = [b""]  # the array's length, once known
    position = 4
    for entry in entries:
        # Each a{sv} starts on a multiple of 4 with its length; its entries on a multiple of 8.
        pad_before = -position % 4
        pad_after = -(position + pad_before + 4) % 8
        parts += (PAD[pad_before], U32.pack(len(entry)), PAD[pad_after], entry)
        position += pad_before + 4 + pad_after + len(entry)
    if position - 4 > MAX_ARRAY_BYTES:
        # dbus-fast refuses such a reply when it marshals it; sent as bytes, it would cost the bus.
        raise ReeldError("The answer is larger than D-Bus can carry (64 MiB): ask for fewer items")
    parts[0] = U32.pack(position - 4)
    return b"".join(parts)


#: The alignment of a value of each D-Bus type code (the specification's table).
_ALIGNMENT = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "s": 4, "o": 4}
_ALIGNMENT |= {"g": 1, "a": 4, "(": 8, "{": 8, "v": 1, "h": 4}
#: A NUL that ends a string, and the zeros after it up to the next multiple of 8, by their count.
NUL_PAD = tuple(bytes(n + 1) for n in range(8))
U64, DOUBLE = struct.Struct("<Q"), struct.Struct("<d")


def entry_prefix(key: str, signature: str) -> bytes:
    """A ``{sv}`` entry's bytes before its value: the key, the variant's signature and the padding
    to the value's alignment, for an entry starting on a multiple of 8 (as every entry does)."""
    name, code = key.encode(), signature.encode()
    head = U32.pack(len(name)) + name + b"\0" + bytes((len(code),)) + code + b"\0"
    return head + PAD[-len(head) % _ALIGNMENT[signature[0]]]


def string_map_entry(prefix: bytes, mapping: dict[str, str]) -> tuple[bytes, int]:
    """An ``a{ss}`` entry (``prefix`` from ``entry_prefix``) padded to a multiple of 8, and how
    many zeros that added: an item's provider ids differ from every other item's."""
    first = len(prefix) + 4  # after the array's length, the entries start on a multiple of 8
    first += -first % 8
    parts = [prefix, b"", PAD[first - len(prefix) - 4]]
    position = first
    for key, value in mapping.items():
        name, text = key.encode(), value.encode()
        before, between = -position % 8, -(len(name) + 1) % 4  # the key starts on a multiple of 8
        parts += (
            PAD[before],
            U32.pack(len(name)),
            name,
            NUL_PAD[between],
            U32.pack(len(text)),
            text,
            b"\0",
        )
        position += before + 4 + len(name) + 1 + between + 4 + len(text) + 1
    parts[1] = U32.pack(position - first)
    pad = -position % 8
    parts.append(PAD[pad])
    return b"".join(parts), pad


def padded_entry(item: dict[str, Variant]) -> tuple[bytes, int]:
    """``item``'s marshalled entries padded to a multiple of 8, and how many zeros that added (for
    the rare values an item is made of, such as ``a{ss}``, and values many items share)."""
    entries = entries_of(item)
    pad = -len(entries) % 8
    return entries + PAD[pad], pad


def entries_of(item: dict[str, Variant]) -> bytes:
    """An item's ``{sv}`` entries as they are marshalled from an offset that is a multiple of 8."""
    marshalled = Marshaller("a{sv}", [item]).marshall()
    return bytes(marshalled[8:])  # the array's length and the padding to the first entry


class ItemBytes:
    """Each item's marshalled entries, least recently used first out, up to ``max_bytes``.

    Keyed by the item's row id and checked against a hash of everything its ``a{sv}`` is made
    of (the row and its artwork paths), so a changed item is marshalled again and the rows
    themselves are not kept. Python's hashes of strings are keyed per process (PYTHONHASHSEED is
    not set), so a server cannot craft a title whose hash matches another version of the same
    item; of numbers, only -1 and -2 share a hash, and the a{sv} of an item makes them the same
    (negative numbers are sent as 0). Used from the cache's reader threads, hence the lock.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = self.misses = 0
        self._kept: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, keys: list[tuple[int, int]]) -> list[bytes | None]:
        """The kept entries of each ``(item id, made_of hash)``; None where not kept, or kept for
        an item made of something else then. One lock for a page: 200 lookups per ListItems."""
        found: list[bytes | None] = []
        kept = self._kept
        with self._lock:
            for item_id, made_of in keys:
                entry = kept.get(item_id)
                if entry is not None and entry[0] == made_of:
                    kept.move_to_end(item_id)
                    found.append(entry[1])
                else:
                    found.append(None)
            hits = sum(entry is not None for entry in found)
            self.hits += hits
            self.misses += len(found) - hits
        return found

    def put(self, made: list[tuple[int, int, bytes]]) -> None:
        """Keep ``(item id, made_of hash, entries)`` s, letting the least recently used go."""
        with self._lock:
            for item_id, made_of, entries in made:
                if (old := self._kept.pop(item_id, None)) is not None:
                    self.size -= len(old[1]) + ENTRY_OVERHEAD_BYTES
                self._kept[item_id] = (made_of, entries)
                self.size += len(entries) + ENTRY_OVERHEAD_BYTES
            while self.size > self.max_bytes and self._kept:
                self.size -= len(self._kept.popitem(last=False)[1][1]) + ENTRY_OVERHEAD_BYTES

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self.size = 0

    def forget_if_idle(self, idle_s: float, after_s: float) -> bool:
        """Let every kept item go when no client called for ``after_s`` (``idle_s`` so far): a
        daemon browsed an hour ago keeps no copy of its pages. Whether it did."""
        if idle_s < after_s or not self._kept:
            return False
        self.clear()
        return True


class WireReply(Message):
    """A method return whose body was marshalled already (``wire_body``)."""

    def __init__(self, reply: Message, body: bytes) -> None:
        super().__init__(
            message_type=MessageType.METHOD_RETURN,
            reply_serial=reply.reply_serial,
            destination=reply.destination,
            signature=reply.signature,
            serial=reply.serial,
        )
        self.wire_body = body

    def _marshall(self, negotiate_unix_fd: bool) -> bytearray:
        # The fields dbus-fast gives a method return (Message._marshall), in its order.
        fields: list[tuple[int, Variant]] = [(5, Variant("u", self.reply_serial))]  # REPLY_SERIAL
        if self.destination:
            fields.append((6, Variant("s", self.destination)))  # DESTINATION
        fields.append((8, Variant("g", self.signature)))  # SIGNATURE
        header = Marshaller(
            "yyyyuua(yv)",
            [
                ord("l"),
                MessageType.METHOD_RETURN.value,
                self.flags.value,
                1,
                len(self.wire_body),
                self.serial,
                fields,
            ],
        ).marshall()
        header += PAD[-len(header) % 8]  # the body starts on a multiple of 8
        return header + self.wire_body


def as_wire_reply(msg: Message) -> Message:
    """``msg``, or, when its first argument is a ``WireItems`` (ListItems and the like; Query's
    ``(aa{sv}u)``, whose other arguments are ``u`` s), the same reply sending its bytes."""
    body = msg.body
    if msg.message_type is not MessageType.METHOD_RETURN or not body or type(body[0]) is not WireItems:
        return msg
    rest = msg.signature.removeprefix(WireItems.signature)
    if rest != "u" * (len(body) - 1):
        raise TypeError(f"A marshalled item list can be followed by uint32s only, not {rest!r}")
    if len(body) == 1:  # the list alone: its bytes as they are (a page is some 200 kB to copy)
        return WireReply(msg, body[0].body)
    parts, position = [body[0].body], len(body[0].body)
    for value in body[1:]:
        pad = -position % 4
        parts += (PAD[pad], U32.pack(value))
        position += pad + 4
    return WireReply(msg, b"".join(parts))

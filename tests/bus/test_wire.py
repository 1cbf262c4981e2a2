"""Item lists sent as kept wire bytes (``reeld.bus.wire``): byte for byte what dbus-fast would have
marshalled, read back whole by clients no one here wrote, and marshalled again when an item changes."""

import asyncio
import os
import random
import subprocess
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast._private.marshaller import Marshaller
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, method

from reeld.bus import convert, wire
from reeld.bus.convert import items_to_dbus, items_to_wire
from reeld.bus.service import RootObjectManagerBus
from reeld.bus.wire import ItemBytes, WireItems, WireReply, as_wire_reply, entries_of, join_items
from reeld.errors import ReeldError
from tests.bus.test_convert import row
from tests.support.bus import PrivateBus


def dbus_fast_body(items: list[dict[str, Variant]]) -> bytes:
    return bytes(Marshaller("aa{sv}", [items]).marshall())


#: Columns of each kind, and values that test them: every one, with or without a value, in the rows.
TEXT_COLUMNS = ("title", "summary", "show_title", "thumb", "content_rating", "studio", "original_title")
TEXT_COLUMNS += ("sort_name", "air_date", "artist")
NUMBER_COLUMNS = ("year", "duration_ms", "idx", "parent_idx", "added_at", "updated_at", "view_count")
NUMBER_COLUMNS += ("last_viewed_at", "position_ms", "index_end", "child_count", "leaf_count")
NUMBER_COLUMNS += ("watched_leaf_count",)


def odd_rows(count: int, seed: int = 1) -> list[list[Any]]:
    """Rows whose items marshal to lengths of every remainder, so every padding case is met, with
    each column present in some and absent in others."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        values: dict[str, Any] = {"id": n + 1, "remote_id": f"r{n}" + "x" * rng.randrange(8)}
        values["kind"] = rng.choice(("movie", "episode", "show", "season", "track", None, None))
        values["watched"] = rng.choice((0, 1))
        values["library_id"] = rng.choice(("tv", "films", "music"))
        filled = rng.choice((0.02, 0.5, 0.9))  # sparse rows end on their first entries
        for column in TEXT_COLUMNS:
            if rng.random() < filled:
                values[column] = rng.choice(("é", "x", "Ω", "abc")) * rng.randrange(0, 9)
        for column in NUMBER_COLUMNS:
            if rng.random() < filled:
                values[column] = rng.choice((-3, 0, 1, rng.randrange(10**9)))
        if rng.random() < filled:
            values["parent_id"] = "p" * rng.randrange(1, 9)
        if rng.random() < filled:
            values["rating"] = rng.choice((-1.0, 0, rng.random() * 10))
        if rng.random() < filled:
            values["genres"] = rng.choice(('["Drama", "Ω"]', "[]", '["Sci-Fi"]'))
        if rng.random() < filled:
            values["provider_ids"] = rng.choice(('{"imdb": "tt1"}', "{}", '{"tmdb": "12", "tvdb": "é"}'))
        rows.append(row(**values))
    return rows


@pytest.fixture(autouse=True)
def artwork_kept_for_some() -> Iterator[None]:
    """Some items have images kept, of one kind or more (their ``*_path`` entries come last)."""

    def paths(source_id: str, remote_id: str, thumb: str | None, artwork: str | None) -> dict[str, str]:
        kinds = ("poster", "backdrop", "banner")[: max(0, sum(map(ord, remote_id)) % 6 - 2)]
        return {kind: f"/cache/{remote_id}/{kind}.jpg" for kind in kinds}

    convert.use_artwork(paths)
    yield
    convert.use_artwork(convert._no_artwork)


def test_a_list_is_byte_for_byte_what_dbus_fast_marshals() -> None:
    rows = odd_rows(1000)
    assert len({len(entries_of(item)) % 8 for item in items_to_dbus(rows)}) == 8  # padding of each kind
    last_keys = {list(item)[-1] for item in items_to_dbus(rows)}
    assert {"watched", "kind", "title", "year", "duration_ms", "rating", "genres"} <= last_keys
    assert {"provider_ids", "unwatched_count", "poster_path"} <= last_keys
    for take in (0, 1, 2, 3, 17, 1000):
        assert items_to_wire(rows[:take]).body == dbus_fast_body(items_to_dbus(rows[:take]))


def test_any_dictionaries_join_as_dbus_fast_marshals_them() -> None:
    """Empty items, and items ending on every offset a multiple of 8 leaves over."""
    items: list[dict[str, Variant]] = [
        {},
        {"a": Variant("y", 1)},
        {"b": Variant("s", "x" * 5), "c": Variant("d", 1.5)},
        {},
        {"d": Variant("as", ["p", "q"]), "e": Variant("a{ss}", {"k": "v"})},
        {"f": Variant("t", 2**40)},
        {},
    ]
    for start in range(len(items)):
        part = items[start:]
        assert join_items(entries_of(item) for item in part) == dbus_fast_body(part)


def test_an_item_is_marshalled_again_when_anything_it_is_made_of_changes() -> None:
    convert.ITEM_BYTES.clear()
    unwatched = row(id=7, kind="episode", title="Pilot", watched=0)
    first = items_to_wire([unwatched]).body
    hits = convert.ITEM_BYTES.hits
    assert items_to_wire([unwatched]).body == first
    assert convert.ITEM_BYTES.hits == hits + 1
    watched = row(id=7, kind="episode", title="Pilot", watched=1)
    assert items_to_wire([watched]).body == dbus_fast_body(items_to_dbus([watched])) != first


def test_a_reply_of_items_and_a_total_is_byte_for_byte_what_dbus_fast_sends() -> None:
    """Query's (aa{sv}u): the total follows the marshalled list, on a multiple of 4."""
    call = Message(destination=":1.5", path="/x", interface="i.x", member="Query", serial=9, sender=":1.7")
    for take in (0, 1, 5):
        rows = odd_rows(take, seed=take)
        expected = Message.new_method_return(call, "aa{sv}u", [items_to_dbus(rows), 12345])
        expected.serial = 3
        sent = as_wire_reply(Message.new_method_return(call, "aa{sv}u", [items_to_wire(rows), 12345]))
        sent.serial = 3
        assert isinstance(sent, WireReply)
        assert sent._marshall(False) == expected._marshall(False)


def test_kept_bytes_stay_within_their_bound() -> None:
    kept = ItemBytes(max_bytes=1000)
    for n in range(100):
        kept.put([(n, 0, bytes(64))])
    assert kept.size <= 1000
    assert kept.get([(99, 0), (0, 0), (99, 1)]) == [bytes(64), None, None]  # 99 made of something else now


def gdbus_call(address: str, name: str) -> "subprocess.CompletedProcess[str]":
    command = ["gdbus", "call", "--session", "--dest", name, "--object-path", "/wire"]
    return subprocess.run(
        [*command, "--method", "io.github.reeld.WireTest.List"],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
    )


def test_a_list_too_large_for_dbus_is_an_error_not_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbus-daemon drops a connection that sends an array over 64 MiB: refused here, for one call."""
    monkeypatch.setattr(wire, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(ReeldError, match="larger than D-Bus can carry"):
        items_to_wire(odd_rows(64))


def test_items_that_differ_only_in_numbers_sharing_a_hash_are_sent_alike() -> None:
    """-1 and -2 hash alike in Python: whatever the kept bytes, the a{sv} of both must be the same."""
    first, second = row(id=3, rating=-1.0), row(id=3, rating=-2.0)
    assert items_to_dbus([first]) == items_to_dbus([second])
    assert (
        items_to_wire([first]).body == items_to_wire([second]).body == dbus_fast_body(items_to_dbus([second]))
    )


def test_kept_bytes_are_let_go_once_clients_are_gone_a_while() -> None:
    kept = ItemBytes(max_bytes=1000)
    kept.put([(1, 0, bytes(64))])
    assert not kept.forget_if_idle(idle_s=10, after_s=300)
    assert kept.get([(1, 0)]) == [bytes(64)]
    assert kept.forget_if_idle(idle_s=301, after_s=300)
    assert kept.size == 0 and kept.get([(1, 0)]) == [None]


class Catalog(ServiceInterface):
    def __init__(self, items: WireItems) -> None:
        super().__init__("io.github.reeld.WireTest")
        self.items = items

    @method()
    async def List(self) -> Annotated[WireItems, DBusSignature("aa{sv}")]:
        return self.items


async def test_clients_read_the_bytes_back_whole(private_bus: PrivateBus, bus_client: MessageBus) -> None:
    rows = odd_rows(40, seed=2)
    service = await RootObjectManagerBus(bus_address=private_bus.address).connect()
    try:
        service.export("/wire", Catalog(items_to_wire(rows)))
        reply = await bus_client.call(
            Message(
                destination=service.unique_name,
                path="/wire",
                interface="io.github.reeld.WireTest",
                member="List",
            )
        )
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN, reply
        assert reply.signature == "aa{sv}"
        assert reply.body == [items_to_dbus(rows)]
        gdbus = await asyncio.to_thread(gdbus_call, private_bus.address, service.unique_name or "")
        assert gdbus.returncode == 0, gdbus.stderr
        assert gdbus.stdout.count("'id': <") == len(rows)
        assert "'jellyfin_abc:r39" in gdbus.stdout
    finally:
        service.disconnect()

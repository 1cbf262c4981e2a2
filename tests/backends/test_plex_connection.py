"""Choosing a Plex server's address: preference, the grace period, and the message when all fail.

Probes here answer after set delays (the timing is the behaviour under test); the end-to-end tests
in test_plex.py choose among real addresses of the fake servers.
"""

import asyncio

import httpx
import pytest

from reeld.backends.plex import connection
from reeld.backends.plex.connection import choose
from reeld.backends.plex.plextv import PlexConnection
from reeld.errors import AuthRequired, BackendUnavailable

LAN = PlexConnection("http://192.168.1.10:32400", local=True, relay=False)
LAN_TLS = PlexConnection(
    "https://192-168-1-10.abc.plex.direct:32400", local=True, relay=False, protocol="https"
)
WAN = PlexConnection("http://203.0.113.5:32400", local=False, relay=False)
RELAY = PlexConnection("https://relay.plex.direct:8443", local=False, relay=True, protocol="https")


def probe_with(outcomes: dict[PlexConnection, tuple[float, BaseException | None]]) -> connection.Probe:
    async def probe(candidate: PlexConnection) -> None:
        delay, error = outcomes[candidate]
        await asyncio.sleep(delay)
        if error is not None:
            raise error

    return probe


async def test_a_preferred_address_answering_within_the_grace_period_wins() -> None:
    probe = probe_with({LAN: (0.2, None), WAN: (0.01, None), RELAY: (0.0, None)})
    chosen = await choose([RELAY, WAN, LAN], probe, grace_s=1.0)
    assert chosen.connection is LAN and chosen.elapsed_s < 0.5


async def test_a_preferred_address_too_slow_for_the_grace_period_loses() -> None:
    probe = probe_with({LAN: (5.0, None), WAN: (0.01, None)})
    chosen = await choose([LAN, WAN], probe, grace_s=0.3)
    assert chosen.connection is WAN and 0.3 <= chosen.elapsed_s < 0.8


async def test_the_best_address_answering_ends_the_choice_at_once() -> None:
    probe = probe_with({LAN: (0.01, None), WAN: (5.0, None), RELAY: (5.0, None)})
    chosen = await choose([WAN, RELAY, LAN], probe, grace_s=2.0)
    assert chosen.connection is LAN and chosen.elapsed_s < 0.5


async def test_https_is_preferred_over_http_on_the_same_network() -> None:
    probe = probe_with({LAN: (0.0, None), LAN_TLS: (0.1, None)})
    assert (await choose([LAN, LAN_TLS], probe, grace_s=1.0)).connection is LAN_TLS


async def test_a_dead_preferred_address_does_not_hold_up_a_live_one() -> None:
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    probe = probe_with({LAN: (0.0, refused), WAN: (0.01, None)})
    chosen = await choose([LAN, WAN], probe, grace_s=5.0)
    assert chosen.connection is WAN and chosen.elapsed_s < 0.5


async def test_when_nothing_answers_the_message_lists_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "PROBE_TIMEOUT_S", 0.2)
    request = httpx.Request("GET", RELAY.uri)
    unavailable = httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request))
    probe = probe_with(
        {
            LAN: (10.0, None),
            WAN: (0.0, httpx.ConnectError("[Errno 111] Connection refused")),
            RELAY: (0.0, unavailable),
        }
    )
    with pytest.raises(BackendUnavailable) as failed:
        await choose([RELAY, WAN, LAN], probe)
    assert str(failed.value) == (
        "no address answered: 192.168.1.10:32400 (local) timed out after 0.2 s; "
        "203.0.113.5:32400 (remote) connection refused; relay: HTTP 503"
    )


async def test_a_rejected_token_is_the_reason_over_unreachable_addresses() -> None:
    probe = probe_with(
        {
            LAN: (0.0, httpx.ConnectError("refused")),
            WAN: (0.0, AuthRequired("Home rejected its access token")),
        }
    )
    with pytest.raises(AuthRequired, match="rejected its access token"):
        await choose([LAN, WAN], probe)

"""The fakes' playback answers have the shapes of the real servers' APIs (the OpenAPI documents in
shared/specs), reeld's own playback request is a valid ``PlaybackInfoDto``, and the HLS routes are
as strict as Jellyfin 12 and Plex: a player's URL works, anything else does not."""

from typing import Any

import httpx

from reeld.backends.jellyfin.playback import playback_request
from reeld.fakes.jellyfin import FakeJellyfin, FakeJellyfinServer
from reeld.fakes.jellyfin import media as jellyfin_media
from reeld.fakes.plex import FakePlexCluster
from reeld.fakes.plex.catalog import EPISODE
from reeld.models.playback import Stream, StreamType, Transcode
from tests.fakes.test_fake_jellyfin import DEVICE, auth, schema, served  # noqa: F401 - fixtures
from tests.fakes.test_fake_plex import JSON_ACCEPT, clock, cluster, http, spec_validators  # noqa: F401

Served = tuple[FakeJellyfin, FakeJellyfinServer, httpx.AsyncClient, str]


async def test_jellyfin_playback_answers_match_the_openapi_document(served: Served, schema: Any) -> None:  # noqa: F811
    fake, _, http, token = served  # noqa: F811
    user = fake.users["anna"].id
    episode = next(item for item in fake.items.values() if item.type == "Episode")
    item = (await http.get(f"/Items/{episode.id}", params={"userId": user}, headers=auth(token))).json()
    schema("BaseItemDto", item)
    assert item["MediaSources"][0]["MediaStreams"] and item["Chapters"]
    info = await http.get(f"/Items/{episode.id}/PlaybackInfo", params={"userId": user}, headers=auth(token))
    schema("PlaybackInfoResponse", info.json())
    segments = (await http.get(f"/MediaSegments/{episode.id}", headers=auth(token))).json()
    schema("MediaSegmentDtoQueryResult", segments)
    assert {segment["Type"] for segment in segments["Items"]} >= {"Outro", "Preview"}
    only_intros = await http.get(
        f"/MediaSegments/{episode.id}", params={"includeSegmentTypes": "Outro"}, headers=auth(token)
    )
    assert [segment["Type"] for segment in only_intros.json()["Items"]] == ["Outro"]

    audio = next(s for s in jellyfin_media.media_streams(episode) if s["Type"] == "Audio")
    choice = Transcode(2_000_000, audio=Stream(StreamType.AUDIO, audio["Index"]), start_ms=5_000)
    body = playback_request(user, episode.id, choice)
    schema("PlaybackInfoDto", body)
    decision = await http.post(
        f"/Items/{episode.id}/PlaybackInfo", params={"userId": user}, json=body, headers=auth(token)
    )
    schema("PlaybackInfoResponse", decision.json())
    url = decision.json()["MediaSources"][0]["TranscodingUrl"]
    async with httpx.AsyncClient(base_url=str(http.base_url)) as player:  # no headers: a player
        assert (await player.get(url)).status_code == 200
        assert (await player.get(url.replace("ApiKey=", "api_key="))).status_code == 401  # 12.0: off
        assert (await player.get(url.replace("PlaySessionId=", "PlaySessionId=0"))).status_code == 400
        assert (await player.get(url.replace("MediaSourceId=", "x="))).status_code == 400
        wrong_track = url.replace(f"AudioStreamIndex={audio['Index']}", "AudioStreamIndex=0")  # the video
        assert (await player.get(wrong_track)).status_code == 400
    refused = await http.post(
        f"/Items/{episode.id}/PlaybackInfo",
        params={"userId": user},
        json={**body, "SubtitleStreamIndex": 99},
        headers=auth(token),
    )
    assert refused.status_code == 400


async def test_plex_metadata_with_streams_chapters_and_markers_matches_the_specs(
    cluster: FakePlexCluster,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
    spec_validators: dict[str, Any],  # noqa: F811
) -> None:
    home = cluster.servers[0]
    episode = next(item for item in home.catalog.items.values() if item.type == EPISODE)
    url = f"{home.url}{episode.key}?includeMarkers=1&includeChapters=1"
    answer = await http.get(url, headers={"X-Plex-Token": cluster.token, **JSON_ACCEPT})
    body = answer.json()
    current = spec_validators["make"]("current", "/library/metadata/{ids}", "get", "200")
    assert [e.message for e in current.iter_errors(body)] == []
    # The older document describes Chapter and Marker (the current one leaves them open); it also
    # requires fields no real answer always has (slug, titleSort), which are not checked here.
    legacy = spec_validators["make"]("legacy", "/library/metadata/{ratingKey}", "get", "200")
    playback_errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in legacy.iter_errors(body)
        if {"Chapter", "Marker", "Stream"} & set(map(str, e.absolute_path))
    ]
    assert playback_errors == []
    (entry,) = body["MediaContainer"]["Metadata"]
    assert entry["Media"][0]["Part"][0]["Stream"] and entry["Chapter"] and entry["Marker"]
    plain = (
        await http.get(f"{home.url}{episode.key}", headers={"X-Plex-Token": cluster.token, **JSON_ACCEPT})
    ).json()
    assert "Marker" not in plain["MediaContainer"]["Metadata"][0]  # only when asked for
    xml = await http.get(url, headers={"X-Plex-Token": cluster.token})
    assert "<Stream " in xml.text and "<Marker " in xml.text and "<Chapter " in xml.text

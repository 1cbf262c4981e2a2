"""What a server (or a proxy, or a plugin) sends in playback answers may be of any type: a value
of the wrong type or out of range is unknown, the rest of the answer is kept, and what reaches
the bus always marshals."""

from typing import Any

from dbus_fast import Message, Variant

from reeld.backends.jellyfin.playback import playback_from_dto, with_token
from reeld.backends.playback import as_text
from reeld.backends.plex.playback import playback_from_metadata
from reeld.bus.playback import playback_to_dbus
from reeld.models.playback import Chapter, Marker, MarkerType, PlaybackInfo, Stream, StreamType

ODD_VALUES: list[Any] = [None, "x", -5, 2**70, 1.5e30, True, {}, [], "", float("nan")]


def test_jellyfin_answers_of_any_shape_give_what_is_sane() -> None:
    for odd in ODD_VALUES:
        dto = {
            "MediaSources": [
                odd,
                {
                    "Id": "a1",
                    "Container": odd,
                    "Bitrate": odd,
                    "Size": odd,
                    "RunTimeTicks": odd,
                    "MediaStreams": [
                        odd,
                        {"Type": odd, "Index": 0},
                        {"Type": "Audio", "Index": odd, "Codec": "aac"},
                        {"Type": "Audio", "Index": 1, "Codec": odd, "Channels": odd, "IsDefault": odd},
                    ],
                },
            ],
            "Chapters": [odd, {"Name": odd, "StartPositionTicks": 10_000}],
        }
        segments = [
            odd,
            {"Type": "Intro", "StartTicks": odd, "EndTicks": 5},
            {"Type": "Outro", "StartTicks": 0, "EndTicks": 20_000},
        ]
        info = playback_from_dto(dto, segments, "a1")
        assert [(s.type, s.index) for s in info.streams] == [(StreamType.AUDIO, 1)]
        assert info.chapters == (Chapter(as_text(odd) or "", 1),)  # a number may be a title (1917)
        assert info.markers == (Marker(MarkerType.CREDITS, 0, 2),)
        _marshals(playback_to_dbus(info))


def test_plex_answers_of_any_shape_give_what_is_sane() -> None:
    for odd in ODD_VALUES:
        entry = {
            "duration": odd,
            "Media": [
                odd,
                {
                    "bitrate": odd,
                    "Part": [
                        {
                            "key": "/library/parts/1/2/file.mkv",
                            "size": odd,
                            "Stream": [
                                odd,
                                {"streamType": odd},
                                {"streamType": 2, "index": 1, "codec": odd, "channels": odd},
                            ],
                        }
                    ],
                },
            ],
            "Chapter": [odd, {"tag": odd, "startTimeOffset": 3}],
            "Marker": [odd, {"type": odd}, {"type": "intro", "startTimeOffset": 5, "endTimeOffset": 1}],
        }
        info = playback_from_metadata(entry, "/library/parts/1/2/file.mkv")
        assert [(s.type, s.index) for s in info.streams] == [(StreamType.AUDIO, 1)]
        assert info.chapters == (Chapter(as_text(odd) or "", 3),)
        assert info.markers == ()  # an intro that ends before it starts is no intro
        _marshals(playback_to_dbus(info))


def test_numbers_past_the_bus_types_are_left_out() -> None:
    info = PlaybackInfo(
        bitrate=2**40,
        size=2**63,
        streams=(Stream(StreamType.VIDEO, 2**33, width=2**32, height=1080),),
    )
    out = playback_to_dbus(info)
    assert "bitrate" not in out and out["size"].value == 2**63
    (stream,) = out["streams"].value
    assert "index" not in stream and "width" not in stream and stream["height"].value == 1080
    _marshals(out)


def test_a_token_is_added_only_when_the_server_left_it_out() -> None:
    assert (
        with_token("http://jf/videos/1/master.m3u8?a=1", "tok")
        == "http://jf/videos/1/master.m3u8?a=1&ApiKey=tok"
    )
    assert (
        with_token("http://jf/videos/1/master.m3u8?ApiKey=t2", "tok")
        == "http://jf/videos/1/master.m3u8?ApiKey=t2"
    )
    assert with_token("http://jf/videos/1/master.m3u8", "tok") == "http://jf/videos/1/master.m3u8?ApiKey=tok"


def _marshals(body: dict[str, Variant]) -> None:
    Message(
        destination="a.b", path="/a", interface="a.b", member="M", signature="a{sv}", body=[body]
    )._marshall(False)

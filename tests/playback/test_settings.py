"""``[playback]`` in config.toml: checked at start, kept when the file is written again."""

import pytest

from reeld.config import Config, PlaybackSettings
from reeld.errors import InvalidArgument


def test_remote_cap_is_read_and_written_back() -> None:
    config = Config.from_toml({"playback": {"remote_max_kbps": 3000}, "accounts": []})
    assert config.playback == PlaybackSettings(remote_max_kbps=3000)
    assert config.to_toml()["playback"] == {"remote_max_kbps": 3000}
    assert "playback" not in Config.from_toml({}).to_toml()  # defaults are not written


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"remote_max_kbps": 10}, "remote_max_kbps must be a whole number from 64"),
        ({"remote_max_kbps": "fast"}, "remote_max_kbps must be a whole number"),
        ({"remote_max_kbps": True}, "remote_max_kbps must be a whole number"),
        ({"max_kbps": 100}, "Unknown [playback] settings in config.toml: max_kbps"),
    ],
)
def test_a_wrong_setting_is_named(table: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named.replace("[", r"\[").replace("]", r"\]")):
        Config.from_toml({"playback": table})

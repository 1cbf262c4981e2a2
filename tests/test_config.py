"""config.toml as a person edits it: wrong values are refused with words that say which and why."""

from pathlib import Path

import pytest

from reeld.config import SyncSettings, read_config
from reeld.errors import InvalidArgument


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("incremental_minutes = -5", "incremental_minutes must be a number from 1 to 10080, not -5"),
        ("incremental_minutes = 0", "incremental_minutes must be a number from 1"),
        ('incremental_minutes = "x"', "incremental_minutes must be a number from 1 to 10080, not 'x'"),
        ("full_hours = true", "full_hours must be a number"),
        ("jitter_s = -1", "jitter_s must be a number from 0"),
        ('sync_on_start = "yes"', "sync_on_start must be true or false"),
        ("bogus_key = 1", "Unknown [sync] settings in config.toml: bogus_key"),
    ],
)
def test_a_bad_sync_setting_is_refused_with_its_name(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[sync]\n{line}\n")
    with pytest.raises(InvalidArgument) as refused:
        read_config(path)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[sink]\nx = 1\n", "Unknown settings in config.toml: sink (it holds [sync] and [[accounts]])"),
        ("sync = 5\n", "config.toml: sync must be a table ([sync])"),
        ("acounts = []\n", "Unknown settings in config.toml: acounts"),
    ],
)
def test_an_unknown_or_misshapen_table_is_refused_with_its_name(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(InvalidArgument) as refused:
        read_config(path)
    assert says in str(refused.value)


def test_good_sync_settings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[sync]\nincremental_minutes = 5\nfull_hours = 12.5\njitter_s = 0\nsync_on_start = false\n"
    )
    assert read_config(path).sync == SyncSettings(5, 12.5, 0, False)

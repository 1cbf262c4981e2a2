"""Where reeld keeps its files, and the config file (which never holds a secret)."""

import errno
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from reeld.errors import InvalidArgument, ReeldError


def _xdg(name: str, fallback: str) -> Path:
    value = os.environ.get(name)
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


@dataclass(frozen=True, slots=True)
class Paths:
    config_dir: Path
    state_dir: Path
    #: What can be fetched again (artwork); the state folder's when not given.
    cache_dir: Path | None = None

    @classmethod
    def from_env(cls) -> "Paths":
        return cls(
            config_dir=_xdg("XDG_CONFIG_HOME", ".config") / "reeld",
            state_dir=_xdg("XDG_STATE_HOME", ".local/state") / "reeld",
            cache_dir=_xdg("XDG_CACHE_HOME", ".cache") / "reeld",
        )

    @property
    def artwork_dir(self) -> Path:
        return (self.cache_dir or self.state_dir) / "artwork"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def cache_file(self) -> Path:
        return self.state_dir / "cache.db"


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """How often sources sync on their own. Every run is spread by up to ``jitter_s`` seconds."""

    incremental_minutes: float = 15
    full_hours: float = 24
    jitter_s: float = 60
    sync_on_start: bool = True

    def __post_init__(self) -> None:
        # A hand-edited value must not make the daemon sync in a tight loop or never at all.
        _check_number("incremental_minutes", self.incremental_minutes, 1, 7 * 24 * 60)
        _check_number("full_hours", self.full_hours, 1, 365 * 24)
        _check_number("jitter_s", self.jitter_s, 0, 24 * 3600)
        if not isinstance(self.sync_on_start, bool):
            raise InvalidArgument("config.toml: [sync] sync_on_start must be true or false")


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidArgument(
            f"config.toml: [sync] {name} must be a number from {low:g} to {high:g}, not {value!r}"
        )


@dataclass(frozen=True, slots=True)
class PlaybackSettings:
    """``[playback]``: the bitrate a stream from a server reached over the internet or Plex's relay
    is held to unless the player asks for another (``GetStreamUrlWith``'s ``max_bitrate``)."""

    remote_max_kbps: int = 8000

    def __post_init__(self) -> None:
        value = self.remote_max_kbps
        if isinstance(value, bool) or not isinstance(value, int) or not 64 <= value <= 1_000_000:
            raise InvalidArgument(
                f"config.toml: [playback] remote_max_kbps must be a whole number from 64 to 1000000, not {value!r}"
            )


@dataclass(frozen=True, slots=True)
class ArtworkSettings:
    """``[artwork]``: how much disk the artwork cache may take (least recently used images go first)."""

    max_mb: int = 2048

    def __post_init__(self) -> None:
        value = self.max_mb
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
            raise InvalidArgument(
                f"config.toml: [artwork] max_mb must be a whole number from 1 to 1000000, not {value!r}"
            )


@dataclass(slots=True)
class Config:
    """config.toml: ``[sync]`` settings and one ``[[accounts]]`` table per account."""

    sync: SyncSettings = field(default_factory=SyncSettings)
    playback: PlaybackSettings = field(default_factory=PlaybackSettings)
    artwork: ArtworkSettings = field(default_factory=ArtworkSettings)
    accounts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> "Config":
        unknown_tables = set(data) - {"sync", "accounts", "playback", "artwork"}
        if unknown_tables:
            raise InvalidArgument(
                f"Unknown settings in config.toml: {', '.join(sorted(unknown_tables))} "
                "(it holds [sync] and [[accounts]])"
            )
        sync = data.get("sync", {})
        if not isinstance(sync, dict):
            raise InvalidArgument("config.toml: sync must be a table ([sync])")
        known = {name for name in SyncSettings.__dataclass_fields__}
        unknown = set(sync) - known
        if unknown:
            raise InvalidArgument(f"Unknown [sync] settings in config.toml: {', '.join(sorted(unknown))}")
        accounts = data.get("accounts", [])
        if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
            raise InvalidArgument("config.toml: accounts must be a list of tables ([[accounts]])")
        return cls(
            sync=SyncSettings(**sync),
            accounts=[dict(a) for a in accounts],
            playback=_playback(data),
            artwork=_artwork(data),
        )

    def to_toml(self) -> dict[str, Any]:
        defaults = SyncSettings()
        sync = {
            name: getattr(self.sync, name)
            for name in SyncSettings.__dataclass_fields__
            if getattr(self.sync, name) != getattr(defaults, name)
        }
        data: dict[str, Any] = {}
        if sync:
            data["sync"] = sync
        if self.playback != PlaybackSettings():
            data["playback"] = {"remote_max_kbps": self.playback.remote_max_kbps}
        if self.artwork != ArtworkSettings():
            data["artwork"] = {"max_mb": self.artwork.max_mb}
        data["accounts"] = self.accounts
        return data


def _playback(data: dict[str, Any]) -> PlaybackSettings:
    table = data.get("playback", {})
    if not isinstance(table, dict):
        raise InvalidArgument("config.toml: playback must be a table ([playback])")
    unknown = set(table) - {"remote_max_kbps"}
    if unknown:
        raise InvalidArgument(f"Unknown [playback] settings in config.toml: {', '.join(sorted(unknown))}")
    return PlaybackSettings(**table)


def _artwork(data: dict[str, Any]) -> ArtworkSettings:
    table = data.get("artwork", {})
    if not isinstance(table, dict):
        raise InvalidArgument("config.toml: artwork must be a table ([artwork])")
    unknown = set(table) - {"max_mb"}
    if unknown:
        raise InvalidArgument(f"Unknown [artwork] settings in config.toml: {', '.join(sorted(unknown))}")
    return ArtworkSettings(**table)


def read_config(path: Path) -> Config:
    """The config at ``path``; an empty one when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    try:
        return Config.from_toml(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise InvalidArgument(f"{path} is not valid TOML: {exc}") from exc


class ConfigNotWritten(ReeldError):
    """config.toml could not be written; the message says why (a full disk, a read-only one…)."""


def write_config(path: Path, config: Config) -> None:
    """Write atomically (temp file, fsync, rename) with mode 0600, so a crash never leaves half a file.

    Raises ``ConfigNotWritten`` saying why; the file on disk is then as it was.
    """
    try:
        _write_atomically(path, config)
    except OSError as exc:
        raise ConfigNotWritten(f"{path} could not be written: {storage_problem(exc, path.parent)}") from exc


def _write_atomically(path: Path, config: Config) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(b"# reeld accounts and settings. Secrets live in the keyring, never here.\n")
            tomli_w.dump(config.to_toml(), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- why a file could not be written, in words --------------------------------------------------------

_OS_PROBLEMS = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "the disk failed to read or write (I/O error)",
}
#: Below this, a disk counts as full: SQLite and the kernel need a few pages to write anything.
NEARLY_FULL_BYTES = 1024 * 1024


def storage_problem(exc: BaseException, folder: Path) -> str:
    """Why writing under ``folder`` failed, for a person: "the disk is full (12 kB free on …)"."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code == errno.EDQUOT:
        return f"your disk quota is used up ({free_space(folder)})"
    if code == errno.ENOSPC or disk_full(folder):
        return f"the disk is full ({free_space(folder)})"
    if code:
        return _OS_PROBLEMS.get(code) or os.strerror(code).lower()
    return ""


def disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(_existing(folder)).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def free_space(folder: Path) -> str:
    """``"12 kB free on the file system of /home/anna/.local/state"``."""
    where = _existing(folder)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return f"on the file system of {where}"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if free >= size:
            return f"{free / size:.3g} {unit} free on the file system of {where}"
    return f"{free} bytes free on the file system of {where}"


def _existing(folder: Path) -> Path:
    """``folder`` or its nearest existing parent (a folder not yet made lives on its parent's disk)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder

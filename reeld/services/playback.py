"""Playback info (tracks, chapters, markers) and stream URLs with a player's choices.

Info is fetched from the server or file the first time an item is asked for, and kept in the cache:
asked again, it answers from there, offline too. A server reached again refreshes what it kept of
an item whose file changed since (its etag). Stream URLs play the file directly when the bitrate
allows, else ask the server for an HLS transcode with the chosen tracks.
"""

import asyncio
import time

import structlog

from reeld.backends.base import MediaBackend
from reeld.cache.db import Database
from reeld.cache.playback import load_playback, store_playback
from reeld.config import PlaybackSettings
from reeld.errors import BackendUnavailable, InvalidArgument
from reeld.models.media import MediaItem
from reeld.models.playback import PlaybackInfo, Stream, StreamOptions, StreamType, Transcode
from reeld.models.source import ConnectionKind, SourceStatus
from reeld.services.source_coordinator import SourceCoordinator, SourceRuntime

log = structlog.get_logger(__name__)

#: Connections whose streams are held to ``remote_max_kbps`` when the player does not say.
CAPPED_CONNECTIONS = (ConnectionKind.REMOTE, ConnectionKind.RELAY)


class PlaybackService:
    def __init__(self, db: Database, coordinator: SourceCoordinator, settings: PlaybackSettings) -> None:
        self.db = db
        self.coordinator = coordinator
        self.settings = settings
        # One fetch per item at a time: a second ask waits for the first's answer.
        self._fetching: dict[tuple[str, str], asyncio.Task[PlaybackInfo]] = {}

    async def info(self, source_id: str, item: MediaItem) -> PlaybackInfo:
        """The item's playback info: from the cache when it is current or the source is away;
        ``BackendUnavailable`` only for an item never fetched while its source cannot be reached."""
        runtime = self.coordinator.get(source_id)
        reachable = self._reachable(runtime, self.coordinator.backend_of(source_id))
        cached = await self.db.read(load_playback, source_id, item.remote_id)
        if cached is not None and (cached.current or not reachable):
            return cached.info
        if not reachable:
            raise BackendUnavailable(
                f"{runtime.source.name} cannot be reached, and the tracks of {item.title!r} were never "
                "fetched: they are kept once seen online"
            )
        try:
            return await self._fetch_once(runtime, item)
        except BackendUnavailable:
            if cached is not None:
                return cached.info  # what the file was: better than nothing for a player
            raise

    def _reachable(self, runtime: SourceRuntime, backend: MediaBackend) -> bool:
        # A folder is always tried: its disk tells whether it is there.
        return backend.supports_offline() or runtime.state.status is SourceStatus.CONNECTED

    async def _fetch_once(self, runtime: SourceRuntime, item: MediaItem) -> PlaybackInfo:
        """The fetch of this item under way, or a new one. It runs as a task of its own: a caller
        that goes away (cancelled) leaves it to finish for the others."""
        key = (runtime.id, item.remote_id)
        task = self._fetching.get(key)
        if task is None:
            task = self.coordinator.spawn(self._fetch(runtime, item))
            self._fetching[key] = task
            task.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch(self, runtime: SourceRuntime, item: MediaItem) -> PlaybackInfo:
        backend = self.coordinator.backend_of(runtime.id)
        started = time.monotonic()
        info = await backend.get_playback_info(item)
        await self.db.write(store_playback, runtime.id, [(item.remote_id, info)], int(time.time()))
        log.info(
            "playback_info_fetched",
            source=runtime.id,
            streams=len(info.streams),
            markers=len(info.markers),
            seconds=round(time.monotonic() - started, 3),
        )
        return info

    async def stream_url(self, source_id: str, item: MediaItem, options: StreamOptions) -> str:
        """Direct play when the bitrate allows (or the source is a folder), else the server's HLS
        transcode with the chosen tracks."""
        runtime = self.coordinator.get(source_id)
        backend = self.coordinator.backend_of(source_id)
        if not self._reachable(runtime, backend):
            raise BackendUnavailable(f"{runtime.source.name} cannot be reached: nothing streams from it now")
        cap = options.max_bitrate if options.max_bitrate is not None else self._default_cap(runtime, backend)
        plays_as_is = backend.supports_offline() or cap == 0
        if plays_as_is and options.audio_index is None and options.subtitle_index is None:
            return await backend.get_stream_url(item)  # nothing to choose: no need of its tracks
        info = await self.info(source_id, item)
        audio = _chosen(info, StreamType.AUDIO, options.audio_index, "audio_index", item)
        subtitle = _chosen(info, StreamType.SUBTITLE, options.subtitle_index, "subtitle_index", item)
        fits = plays_as_is or (info.bitrate is not None and cap >= info.bitrate)
        # A file played as it is plays its default tracks: a URL cannot tell a player which others to
        # take. So another audio track, or a subtitle shown, is the server's stream of those tracks at
        # the file's own bitrate (a folder has no server: its player chooses).
        wants_tracks = (audio is not None and not audio.default) or subtitle is not None
        if fits and (backend.supports_offline() or not wants_tracks):
            return await backend.get_stream_url(item)
        rate = (info.bitrate or cap or self._default_cap_bits()) if fits else cap
        choice = Transcode(max_bitrate=rate, audio=audio, subtitle=subtitle, start_ms=options.start_ms)
        return await backend.get_transcode_url(item, info, choice)

    def _default_cap_bits(self) -> int:
        return self.settings.remote_max_kbps * 1000

    def _default_cap(self, runtime: SourceRuntime, backend: MediaBackend) -> int:
        """Bits/s a stream is held to when the player does not say: none on a LAN or for a file."""
        kind = runtime.state.connection_kind or backend.connection_kind
        return self._default_cap_bits() if kind in CAPPED_CONNECTIONS else 0


def _chosen(
    info: PlaybackInfo, stream_type: StreamType, index: int | None, option: str, item: MediaItem
) -> Stream | None:
    if index is None:
        return None
    stream = info.stream(stream_type, index)
    if stream is None:
        known = ", ".join(str(s.index) for s in info.streams if s.type is stream_type) or "none"
        raise InvalidArgument(
            f"{option} {index} is no {stream_type} track of {item.title[:100]!r} (its {stream_type} tracks: {known})"
        )
    return stream

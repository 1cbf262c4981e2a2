"""The fake server's state: a deterministic catalog, users, tokens, watch state, and the rules
that turn it into Jellyfin's JSON (BaseItemDto, UserItemDataDto, QueryResult)."""

import asyncio
import functools
import hashlib
import random
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TICKS_PER_SECOND = 10_000_000
# Fields the real server returns only when a request's Fields asks for them (ItemFields).
ON_REQUEST = {
    "Overview",
    "ProviderIds",
    "DateCreated",
    "Etag",
    "SortName",
    "ParentId",
    "Path",
    "MediaSources",
    "MediaStreams",
    "Chapters",
    "Genres",
    "Studios",
    "OriginalTitle",
}
#: Image types an item of each type has (``EnableImageTypes`` narrows what a listing shows).
IMAGE_TYPES_OF = {
    "Movie": ("Primary", "Backdrop", "Logo"),
    "Series": ("Primary", "Backdrop", "Logo", "Thumb"),
    "Season": ("Primary",),
    "Episode": ("Primary",),
    "MusicAlbum": ("Primary",),
}
GENRES = ["Drama", "Comedy", "Thriller", "Science Fiction", "Documentary", "Animation", "Crime", "Romance"]
STUDIOS = ["Northern Light Pictures", "Paper Moon", "Velvet Road Studios", "Harbor Films"]
RATINGS = ["G", "PG", "PG-13", "R", "TV-14", "TV-MA"]

WORDS = [
    "Silent",
    "Crimson",
    "Harbor",
    "Winter",
    "Garden",
    "Broken",
    "Arrow",
    "Distant",
    "Echo",
    "Iron",
    "Falcon",
    "Hidden",
    "Valley",
    "Last",
    "Letter",
    "Midnight",
    "Orchard",
    "Northern",
    "Light",
    "Paper",
    "Moon",
    "Quiet",
    "River",
    "Scarlet",
    "Sky",
    "Stone",
    "Tide",
    "Velvet",
    "Road",
]


def jf_id(*parts: object) -> str:
    """Jellyfin ids: 32 lowercase hex digits, no dashes."""
    return hashlib.md5("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def jf_date(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_jf_date(text: str) -> float:
    return datetime.fromisoformat(text.rstrip("Z").split(".")[0]).replace(tzinfo=UTC).timestamp()


@dataclass
class Item:
    id: str
    type: str  # Movie, Series, Season, Episode, MusicArtist, MusicAlbum, Audio
    name: str
    view_id: str
    parent_id: str
    year: int | None = None
    overview: str = ""
    runtime_ticks: int | None = None
    created: float = 0.0
    rating: float | None = None
    index: int | None = None
    parent_index: int | None = None
    series_id: str | None = None
    series_name: str | None = None
    season_id: str | None = None
    season_name: str | None = None
    provider_ids: dict[str, str] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)
    official_rating: str | None = None
    studios: list[str] = field(default_factory=list)
    original_title: str | None = None
    premiere_date: float | None = None  # Unix seconds of a UTC midnight
    album_artist: str | None = None
    album_id: str | None = None  # a track's album
    album_name: str | None = None
    index_end: int | None = None
    saved: float = 0.0  # DateLastSaved: never returned, filtered on by MinDateLastSaved
    revision: int = 1

    @property
    def is_folder(self) -> bool:
        return self.type in ("Series", "Season", "MusicArtist", "MusicAlbum")


@dataclass
class UserState:
    played: bool = False
    position_ticks: int = 0
    play_count: int = 0
    last_played: float | None = None


@dataclass
class User:
    id: str
    name: str
    password: str


@dataclass
class QuickConnect:
    secret: str
    code: str
    device_id: str
    authenticated: bool = False
    user_id: str | None = None


class FakeJellyfin:
    """Catalog and server state. Mutations notify ``listeners`` (the websocket) as the server would."""

    def __init__(self, server_name: str = "Fake Jellyfin", seed: int = 0) -> None:
        self.server_id = jf_id("server", seed)
        self.server_name = server_name
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> user id
        self.views: list[dict[str, Any]] = []
        self.items: dict[str, Item] = {}
        self.user_data: dict[tuple[str, str], UserState] = {}
        self.quick_connect: dict[str, QuickConnect] = {}
        self.session_reports: list[tuple[str, dict[str, Any]]] = []
        self.listeners: list[Callable[[str, Any], None]] = []
        self.keepalive_s = 60
        self.socket_silent = False  # stop answering keep-alives (a half-open connection)
        #: Answer websocket handshakes with this HTTP status, as a proxy without websocket support does.
        self.socket_refusal: int | None = None
        self.socket_attempts = 0  # websocket handshakes asked for (the Wire logs HTTP requests only)
        #: "12.0.0": the legacy api_key and X-Emby-Token forms are refused, as 12.x does by default.
        self.version = "10.11.11"
        self.socket_connected = asyncio.Event()  # set when a client's websocket is listening
        self._version = 0
        self._sorted: dict[tuple[str, str, str, bool], list[Item]] = {}
        # Per cached listing, each item's position in it: picks a few thousand played items out of
        # 100k in their listing order without walking the whole list (a server's index would).
        self._positions: dict[tuple[str, str, str, bool], dict[str, int]] = {}
        self._clock = 1_700_000_000.0

    # -- building ---------------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        movies: int = 50,
        series: int = 5,
        seasons: int = 2,
        episodes: int = 6,
        seed: int = 0,
        user: str = "demo",
        password: str = "demo",
        tracks: int = 0,
    ) -> "FakeJellyfin":
        """``tracks``: per album (none by default: the music library lists its albums alone)."""
        fake = cls(seed=seed)
        fake.add_user(user, password)
        rng = random.Random(seed)
        # The 1.1 metadata draws from its own generator: titles and years stay what they were.
        meta = random.Random(f"{seed}-metadata")
        movies_view = fake.add_view("Movies", "movies")
        shows_view = fake.add_view("Shows", "tvshows")
        music_view = fake.add_view("Music", "music")
        for n in range(movies):
            fake._add(
                Item(
                    jf_id(seed, "movie", n),
                    "Movie",
                    _title(rng),
                    movies_view,
                    movies_view,
                    year=1950 + rng.randrange(75),
                    overview=f"A film, number {n}.",
                    runtime_ticks=rng.randrange(80, 180) * 60 * TICKS_PER_SECOND,
                    rating=round(rng.uniform(4, 9), 1),
                    provider_ids={"Tmdb": str(1000 + n), "Imdb": f"tt{1_000_000 + n}"},
                    genres=_genres(meta),
                    official_rating=meta.choice(RATINGS[:4]),
                    studios=[meta.choice(STUDIOS)],
                    original_title=f"{WORDS[n % len(WORDS)]} ({n})" if n % 5 == 0 else None,
                    premiere_date=_premiere(meta),
                )
            )
        for s in range(series):
            show = fake._add(
                Item(
                    jf_id(seed, "series", s),
                    "Series",
                    _title(rng),
                    shows_view,
                    shows_view,
                    year=1990 + rng.randrange(35),
                    overview=f"A show, number {s}.",
                    provider_ids={"Tvdb": str(70000 + s), "Tmdb": str(5000 + s)},
                    genres=_genres(meta),
                    official_rating=meta.choice(RATINGS[4:]),
                    studios=[meta.choice(STUDIOS)],
                    premiere_date=_premiere(meta),
                )
            )
            for season_number in range(1, seasons + 1):
                season = fake._add(
                    Item(
                        jf_id(seed, "season", s, season_number),
                        "Season",
                        f"Season {season_number}",
                        shows_view,
                        show.id,
                        index=season_number,
                        series_id=show.id,
                        series_name=show.name,
                    )
                )
                for e in range(1, episodes + 1):
                    fake._add(
                        Item(
                            jf_id(seed, "episode", s, season_number, e),
                            "Episode",
                            f"Episode {e}",
                            shows_view,
                            season.id,
                            index=e,
                            parent_index=season_number,
                            series_id=show.id,
                            series_name=show.name,
                            season_id=season.id,
                            season_name=season.name,
                            runtime_ticks=45 * 60 * TICKS_PER_SECOND,
                            year=show.year,
                            premiere_date=(show.premiere_date or 0) + (season_number * 100 + e) * 7 * 86400,
                            # the last episode of a season of three or more is a double one
                            index_end=e + 1 if e == episodes and episodes >= 3 else None,
                        )
                    )
        for a in range(max(1, movies // 50)):
            artist = f"The {WORDS[a % len(WORDS)]}s"
            if _name_id("artist", artist) not in fake.items:
                # Artists are items of their own, outside the library's folders: /Artists/AlbumArtists
                # lists them, /Items under the library does not.
                fake._add(Item(_name_id("artist", artist), "MusicArtist", artist, music_view, music_view))
            album = fake._add(
                Item(
                    jf_id(seed, "album", a),
                    "MusicAlbum",
                    f"Album {a}",
                    music_view,
                    music_view,
                    album_artist=artist,
                    genres=["Rock"],
                )
            )
            for t in range(1, tracks + 1):
                fake._add(
                    Item(
                        jf_id(seed, "track", a, t),
                        "Audio",
                        f"{WORDS[(a + t) % len(WORDS)]} Song {t}",
                        music_view,
                        album.id,
                        index=t,
                        parent_index=1,  # the disc
                        runtime_ticks=(150 + 17 * t + a) * TICKS_PER_SECOND,
                        album_artist=artist,
                        album_id=album.id,
                        album_name=album.name,
                        genres=["Rock"],
                    )
                )
        user_id = next(iter(fake.users.values())).id
        for index, item in enumerate(i for i in fake.items.values() if i.type in ("Movie", "Episode")):
            if index % 7 == 0:
                fake.user_data[(user_id, item.id)] = UserState(True, 0, 1, fake._clock - index)
            elif index % 11 == 0:
                fake.user_data[(user_id, item.id)] = UserState(
                    False, 600 * TICKS_PER_SECOND, 0, fake._clock - index
                )
        return fake

    def add_user(self, name: str, password: str) -> User:
        user = User(jf_id("user", name), name, password)
        self.users[name] = user
        return user

    def add_view(self, name: str, collection_type: str) -> str:
        view_id = jf_id("view", name)
        self.views.append({"Name": name, "Id": view_id, "CollectionType": collection_type})
        return view_id

    def _add(self, item: Item) -> Item:
        self._clock += 1
        item.created = item.created or self._clock
        # Generated items were saved long ago, as on a server that has been running for a while;
        # what a test adds later is saved now.
        item.saved = item.created
        self.items[item.id] = item
        self._changed()
        return item

    def _changed(self) -> None:
        self._version += 1
        self._sorted.clear()
        self._positions.clear()

    # -- mutations "from another device" ----------------------------------------------------------

    def add_movie(self, name: str, year: int | None = None) -> Item:
        view = self.views[0]["Id"]
        item = self._add(
            Item(
                jf_id("added", name, len(self.items)),
                "Movie",
                name,
                view,
                view,
                year=year,
                created=time.time(),
            )
        )
        self._notify("LibraryChanged", _library_change(added=[item.id]))
        return item

    def update_item(self, item_id: str, **fields: Any) -> Item:
        item = self.items[item_id]
        for name, value in fields.items():
            setattr(item, name, value)
        item.saved = time.time()
        item.revision += 1
        self._changed()
        self._notify("LibraryChanged", _library_change(updated=[item_id]))
        return item

    def delete_item(self, item_id: str) -> None:
        doomed = {item_id} | {
            i.id for i in self.items.values() if item_id in (i.parent_id, i.series_id, i.season_id)
        }
        for gone in doomed:
            self.items.pop(gone, None)
        self._changed()
        self._notify("LibraryChanged", _library_change(removed=sorted(doomed)))

    def set_played(self, user_name: str, item_id: str, played: bool, position_ticks: int = 0) -> UserState:
        """Watch state changed on another device (does not touch the item's DateLastSaved).

        As on a real server (``Folder.MarkPlayed``), a series, season or album is marked with every
        item under it."""
        user = self.users[user_name]
        marked = [
            item_id,
            *(i.id for i in self.items.values() if not i.is_folder and self._is_under(i, item_id)),
        ]
        now = time.time()
        for marked_id in marked:
            state = self.user_data.setdefault((user.id, marked_id), UserState())
            state.played = played
            state.position_ticks = 0 if played else position_ticks
            if played:
                state.play_count += 1
            state.last_played = now
        self._notify(
            "UserDataChanged",
            {"UserId": user.id, "UserDataList": [self.user_data_dto(user.id, i) for i in marked]},
        )
        return self.user_data[(user.id, item_id)]

    def _is_under(self, item: Item, folder_id: str) -> bool:
        return folder_id in (item.parent_id, item.series_id, item.season_id) and item.id != folder_id

    def approve_quick_connect(self, code: str, user_name: str) -> None:
        request = next(q for q in self.quick_connect.values() if q.code == code)
        request.authenticated = True
        request.user_id = self.users[user_name].id

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _notify(self, kind: str, data: Any) -> None:
        for listener in list(self.listeners):
            listener(kind, data)

    # -- auth -------------------------------------------------------------------------------------------

    def login(self, name: str, password: str) -> str | None:
        user = self.users.get(name)
        if user is None or user.password != password:
            return None
        return self.issue_token(user.id)

    def issue_token(self, user_id: str) -> str:
        token = uuid.uuid4().hex
        self.tokens[token] = user_id
        return token

    def user_dto(self, user_id: str) -> dict[str, Any]:
        user = next(u for u in self.users.values() if u.id == user_id)
        return {
            "Name": user.name,
            "ServerId": self.server_id,
            "Id": user.id,
            "HasPassword": bool(user.password),
            "HasConfiguredPassword": bool(user.password),
            "EnableAutoLogin": False,
        }

    def auth_result(self, user_id: str, token: str, device_id: str) -> dict[str, Any]:
        return {
            "User": self.user_dto(user_id),
            "SessionInfo": {
                "Id": uuid.uuid4().hex,
                "UserId": user_id,
                "DeviceId": device_id,
                "Client": "reeld",
                "ServerId": self.server_id,
            },
            "AccessToken": token,
            "ServerId": self.server_id,
        }

    # -- queries ----------------------------------------------------------------------------------------

    def query(self, params: dict[str, str], user_id: str) -> tuple[list[Item], int]:
        """/Items semantics: filters, sort, then paging. Returns (page, total)."""
        candidates = items = self._candidates(params)

        def only(ids: Collection[str]) -> list[Item]:
            """``items`` whose id is in ``ids``, in order."""
            if items is candidates:
                positions = self._candidate_positions(params)
                return [candidates[p] for p in sorted(positions[i] for i in ids if i in positions)]
            return [i for i in items if i.id in ids]

        if ids := params.get("Ids"):
            wanted = set(ids.split(","))
            items = [i for i in items if i.id in wanted]
        if since := params.get("MinDateLastSaved") or params.get("MinDateLastSavedForUser"):
            cutoff = parse_jf_date(since)
            items = [i for i in items if i.saved >= cutoff]
        if term := params.get("SearchTerm"):
            items = [i for i in items if term.casefold() in i.name.casefold()]
        played_filter = params.get("IsPlayed")
        filters = params.get("Filters", "")
        if played_filter is not None or "IsPlayed" in filters or "IsResumable" in filters:
            # Sets of this user's ids first: a real server answers these from an index, in milliseconds.
            mine = {iid: st for (uid, iid), st in self.user_data.items() if uid == user_id}
            if played_filter is not None or "IsPlayed" in filters:
                want = played_filter.lower() == "true" if played_filter is not None else True
                played = {iid for iid, st in mine.items() if st.played}
                items = only(played) if want else [i for i in items if i.id not in played]
            if "IsResumable" in filters:
                resumable = {iid for iid, st in mine.items() if st.position_ticks > 0 and not st.played}
                items = only(resumable)
        if params.get("SortBy", "").split(",")[0] == "DatePlayed":
            # The user's own last-played time; never-played items sort as the oldest.
            played_at = {
                iid: st.last_played
                for (uid, iid), st in self.user_data.items()
                if uid == user_id and st.last_played is not None
            }
            dated = sorted(only(played_at.keys()), key=lambda i: played_at[i.id])
            descending = params.get("SortOrder", "Ascending").lower().startswith("desc")
            start, end = _window(params, len(items))
            if descending and end <= len(dated):
                # The page lies among the played items: the never-played rest need not be listed.
                return list(reversed(dated))[start:end], len(items)
            never = [i for i in items if i.id not in played_at]
            items = [*reversed(dated), *never] if descending else [*never, *dated]
        start, end = _window(params, len(items))
        return items[start:end], len(items)

    def album_artists(self, params: dict[str, str]) -> tuple[list[Item], int]:
        """/Artists/AlbumArtists: the artists of the albums under ``ParentId`` (a library), by name,
        then paging. Returns (page, total)."""
        parent = params.get("ParentId", "")
        named = {
            _name_id("artist", i.album_artist)
            for i in self.items.values()
            if i.type == "MusicAlbum" and i.album_artist and (not parent or i.view_id == parent)
        }
        found = sorted(
            (self.items[artist_id] for artist_id in named if artist_id in self.items),
            key=lambda i: (i.name.casefold(), i.id),
        )
        start, end = _window(params, len(found))
        return found[start:end], len(found)

    def _candidate_positions(self, params: dict[str, str]) -> dict[str, int]:
        key = _candidates_key(params)
        positions = self._positions.get(key)
        if positions is None:
            positions = {item.id: n for n, item in enumerate(self._candidates(params))}
            self._positions[key] = positions
        return positions

    def _candidates(self, params: dict[str, str]) -> list[Item]:
        key = _candidates_key(params)
        parent, types, sort, recursive = key
        cached = self._sorted.get(key)
        if cached is not None:
            return cached
        wanted = set(types.split(",")) if types else None
        for (other_parent, other_types, other_sort, other_recursive), listed in list(self._sorted.items()):
            # A cached listing of more types, same parent and order: filtering it keeps the order.
            same_listing = (other_parent, other_sort, other_recursive) == (parent, sort, recursive)
            if same_listing and wanted and other_types and wanted <= set(other_types.split(",")):
                found = [i for i in listed if i.type in wanted]
                self._sorted[key] = found
                return found
        items: Iterable[Item] = self.items.values()
        if parent:
            view_ids = {v["Id"] for v in self.views}
            if parent in view_ids:
                # Artists are not in a library's folders (see album_artists()).
                items = (
                    i
                    for i in items
                    if i.view_id == parent
                    and (recursive or i.parent_id == parent)
                    and i.type != "MusicArtist"
                )
            else:
                items = (
                    i
                    for i in items
                    if i.parent_id == parent
                    or (recursive and parent in (i.series_id, i.season_id, i.album_id))
                )
        found = [i for i in items if wanted is None or i.type in wanted]
        if sort == "DateCreated":
            found.sort(key=lambda i: (i.created, i.id))
        else:
            found.sort(key=lambda i: (i.name.casefold(), i.id))
        self._sorted[key] = found
        return found

    def user_data_dto(self, user_id: str, item_id: str) -> dict[str, Any]:
        state = self.user_data.get((user_id, item_id)) or UserState()
        dto: dict[str, Any] = {
            "PlaybackPositionTicks": state.position_ticks,
            "PlayCount": state.play_count,
            "IsFavorite": False,
            "Played": state.played,
            "Key": item_id,
            "ItemId": item_id,
        }
        if state.last_played is not None:
            dto["LastPlayedDate"] = jf_date(state.last_played)
        return dto

    def item_dto(
        self,
        item: Item,
        user_id: str | None,
        fields: set[str],
        user_data: bool = True,
        image_types: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """``image_types``: those a request's ``EnableImageTypes`` allows (None: all)."""
        images = [
            kind
            for kind in IMAGE_TYPES_OF.get(item.type, ("Primary",))
            if image_types is None or kind in image_types
        ]
        tags = _image_tags(item.id, item.revision)
        dto: dict[str, Any] = {
            "Name": item.name,
            "ServerId": self.server_id,
            "Id": item.id,
            "Type": item.type,
            "IsFolder": item.is_folder,
            "LocationType": "FileSystem",
            "ImageTags": {kind: tags[kind] for kind in images if kind != "Backdrop"},
            "BackdropImageTags": [tags["Backdrop"]] if "Backdrop" in images else [],
        }
        if not item.is_folder:
            dto["MediaType"] = "Video" if item.type != "Audio" else "Audio"
        optional = {
            "ProductionYear": item.year,
            "RunTimeTicks": item.runtime_ticks,
            "CommunityRating": item.rating,
            "IndexNumber": item.index,
            "ParentIndexNumber": item.parent_index,
            "SeriesId": item.series_id,
            "SeriesName": item.series_name,
            "SeasonId": item.season_id,
            "SeasonName": item.season_name,
            "OfficialRating": item.official_rating,
            "PremiereDate": jf_date(item.premiere_date) if item.premiere_date is not None else None,
            "IndexNumberEnd": item.index_end,
            "AlbumArtist": item.album_artist,
            "AlbumId": item.album_id,
            "Album": item.album_name,
        }
        dto.update({k: v for k, v in optional.items() if v is not None})
        if item.album_artist:
            dto["AlbumArtists"] = [{"Name": item.album_artist, "Id": _name_id("artist", item.album_artist)}]
            dto["Artists"] = [item.album_artist]
        if "Genres" in fields:
            dto["Genres"] = item.genres
        if "Studios" in fields:
            dto["Studios"] = [{"Name": name, "Id": _name_id("studio", name)} for name in item.studios]
        if "OriginalTitle" in fields and item.original_title:
            dto["OriginalTitle"] = item.original_title
        if "Overview" in fields and item.overview:
            dto["Overview"] = item.overview
        if "ProviderIds" in fields:
            dto["ProviderIds"] = item.provider_ids
        if "DateCreated" in fields:
            dto["DateCreated"] = jf_date(item.created)
        if "Etag" in fields:
            dto["Etag"] = jf_id("etag", item.id, item.revision)
        if "SortName" in fields:
            dto["SortName"] = item.name.casefold()
        if "ParentId" in fields:
            dto["ParentId"] = item.parent_id
        if fields & {"MediaSources", "MediaStreams", "Chapters"} and not item.is_folder:
            from reeld.fakes.jellyfin import media  # imports this module

            if "MediaSources" in fields:
                dto["MediaSources"] = [media.media_source(item)]
            if "MediaStreams" in fields:
                dto["MediaStreams"] = media.media_streams(item)
            if "Chapters" in fields:
                dto["Chapters"] = media.chapters(item)
        if user_id is not None and user_data:
            dto["UserData"] = self.user_data_dto(user_id, item.id)
        return dto

    def query_result(
        self,
        items: list[Item],
        total: int,
        start: int,
        user_id: str | None,
        fields: set[str],
        user_data: bool = True,
        with_total: bool = True,
        image_types: Collection[str] | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {
            "Items": [self.item_dto(i, user_id, fields, user_data, image_types) for i in items],
            "StartIndex": start,
        }
        result["TotalRecordCount"] = total if with_total else len(items)
        return result


def _candidates_key(params: dict[str, str]) -> tuple[str, str, str, bool]:
    """(parent, types, order, recursive): what a listing's candidates, before filters, depend on."""
    # Orders other than by creation date start from the name order (query() re-sorts by DatePlayed).
    sort = "DateCreated" if params.get("SortBy", "").split(",")[0] == "DateCreated" else "SortName"
    return (
        params.get("ParentId", ""),
        params.get("IncludeItemTypes", ""),
        sort,
        params.get("Recursive", "false").lower() == "true",
    )


def _window(params: dict[str, str], total: int) -> tuple[int, int]:
    """The [start, end) of the page asked for by StartIndex and Limit."""
    start = int(params.get("StartIndex") or 0)
    limit = params.get("Limit")
    return start, total if limit is None else start + int(limit)


def _library_change(
    added: list[str] | None = None, updated: list[str] | None = None, removed: list[str] | None = None
) -> dict[str, Any]:
    return {
        "FoldersAddedTo": [],
        "FoldersRemovedFrom": [],
        "ItemsAdded": added or [],
        "ItemsRemoved": removed or [],
        "ItemsUpdated": updated or [],
        "CollectionFolders": [],
    }


def image_tag(item: Item, image_type: str) -> str:
    """An image's tag: it changes when the item does, as a real server's does when its image does."""
    return _image_tags(item.id, item.revision)[image_type]


@functools.lru_cache(maxsize=1 << 14)
def _image_tags(item_id: str, revision: int) -> dict[str, str]:
    """Every image type's tag of an item at a revision: one hash for them all (a listing of 100k
    items renders them each time)."""
    base = jf_id("image", item_id, revision)
    return {
        kind: f"{base[:-1]}{code:x}" for code, kind in enumerate(("Primary", "Backdrop", "Logo", "Thumb"))
    }


@functools.lru_cache(maxsize=1024)
def _name_id(kind: str, name: str) -> str:
    """The id of a studio or artist (few, named by many items)."""
    return jf_id(kind, name)


def _genres(rng: random.Random) -> list[str]:
    return rng.sample(GENRES, rng.randrange(1, 3))


def _premiere(rng: random.Random) -> float:
    """A UTC midnight between 1950 and 2024 (Jellyfin keeps premiere dates as such)."""
    return float(rng.randrange(-7305, 19723) * 86400)


def _title(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 3))

"""PMS browsing endpoints: identity, server root, sections, listings, metadata, children, search."""

import heapq
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reeld.fakes.plex.catalog import (
    ALBUM,
    ARTIST,
    CHILD_TYPE,
    EPISODE,
    LEAF_TYPES,
    MOVIE,
    SECTION_TYPES,
    SHOW,
    TRACK,
    TYPE_NAMES,
    TYPE_NUMBERS,
    Item,
    Section,
)
from reeld.fakes.plex.metadata import DETAILS, GUIDS, SECTION, STREAMS, fragment, thumb
from reeld.fakes.plex.query import QueryError, SortField, parse_conditions, parse_sort
from reeld.fakes.plex.render import Node
from reeld.fakes.plex.responses import (
    LIBRARY_ATTRS,
    Endpoint,
    guarded,
    guid_flag,
    not_found,
    paged_items,
    pms_response,
    response_format,
)
from reeld.fakes.plex.transcode import asked_playback_flags

if TYPE_CHECKING:
    from reeld.fakes.plex.pms import FakePlexServer

_PLURALS = {MOVIE: "Movies", SHOW: "Shows", "season": "Seasons", EPISODE: "Episodes", ARTIST: "Artists"}
_PLURALS.update({ALBUM: "Albums", TRACK: "Tracks"})
_NEWEST = (SortField(None, "addedAt", True, False),)
#: Meta (``includeMeta=1``): the fields and sorts a section type offers, and operators per field type.
_META_FIELDS = (
    ("title", "Title", "string"),
    ("year", "Year", "integer"),
    ("addedAt", "Date Added", "date"),
    ("updatedAt", "Date Updated", "date"),
    ("lastViewedAt", "Last Played", "date"),
    ("unwatched", "Unplayed", "boolean"),
)
_META_SORTS = (
    ("titleSort", "Title", "asc"),
    ("addedAt", "Date Added", "desc"),
    ("updatedAt", "Date Updated", "desc"),
    ("year", "Year", "desc"),
    ("originallyAvailableAt", "Release Date", "desc"),
    ("rating", "Critic Rating", "desc"),
    ("lastViewedAt", "Last Played", "desc"),
)
_OPERATORS = {
    "integer": (("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than")),
    "string": (("=", "contains"), ("!=", "does not contain"), ("==", "is"), ("!==", "is not")),
    "date": (("<<=", "is before"), (">>=", "is after")),
    "boolean": (("=", "is true"), ("!=", "is false")),
    "tag": (("=", "is"), ("!=", "is not")),
}


def routes(server: "FakePlexServer") -> list[BaseRoute]:
    api = _Library(server)

    def route(path: str, endpoint: Endpoint) -> Route:
        return Route(path, guarded(server, endpoint), methods=["GET"])

    return [
        Route("/identity", api.identity),
        route("/", api.root),
        route("/library", api.library),
        route("/library/sections", api.sections),
        route("/library/sections/all", api.sections),
        route("/library/sections/{sid:int}", api.section),
        route("/library/sections/{sid:int}/all", api.all),
        route("/library/sections/{sid:int}/allLeaves", api.section_leaves),
        route("/library/sections/{sid:int}/recentlyAdded", api.recently_added),
        route("/library/sections/{sid:int}/collections", api.collections),
        Route(
            "/library/sections/{sid:int}/refresh",
            guarded(server, api.refresh),
            methods=["GET", "POST", "DELETE"],
        ),
        route("/library/recentlyAdded", api.recently_added),
        route("/library/onDeck", api.on_deck),
        route("/library/metadata/{ids}", api.metadata),
        route("/library/metadata/{rk:int}/children", api.children),
        route("/library/metadata/{rk:int}/allLeaves", api.leaves),
        route("/hubs/search", api.hub_search),
        route("/search", api.search),
        route("/status/sessions", api.empty),
        route("/activities", api.empty),
    ]


class _Library:
    def __init__(self, server: "FakePlexServer") -> None:
        self.server = server
        self.catalog = server.catalog

    def _section(self, request: Request) -> Section | None:
        return self.catalog.sections.get(request.path_params["sid"])

    def _section_attrs(self, section: Section) -> dict[str, object]:
        return {
            **LIBRARY_ATTRS,
            "art": f"/:/resources/{section.type}-fanart.jpg",
            "librarySectionID": section.id,
            "librarySectionTitle": section.title,
            "librarySectionUUID": section.uuid,
            "thumb": f"/:/resources/{section.type}.png",
            "title1": section.title,
        }

    async def identity(self, request: Request) -> Response:
        server = self.server
        attrs = {
            "size": 0,
            "claimed": True,
            "machineIdentifier": server.machine_identifier,
            "version": server.version,
        }
        return pms_response(response_format(request), Node("MediaContainer", attrs))

    async def root(self, request: Request) -> Response:
        server = self.server
        keys = ("activities", "hubs", "library", "playlists", "search", "servers", "status", "system")
        directories = [Node("Directory", {"count": 1, "key": key, "title": key}) for key in keys]
        attrs: dict[str, object] = {
            "size": len(directories),
            "allowCameraUpload": False,
            "allowChannelAccess": True,
            "allowMediaDeletion": True,
            "allowSharing": server.owned,
            "allowSync": True,
            "backgroundProcessing": True,
            "certificate": True,
            "companionProxy": True,
            "countryCode": "usa",
            "diagnostics": "logs,databases,streaminglogs",
            "eventStream": True,
            "friendlyName": server.name,
            "hubSearch": True,
            "itemClusters": True,
            "livetv": 7,
            "machineIdentifier": server.machine_identifier,
            "mediaProviders": True,
            "multiuser": True,
            "musicAnalysis": 2,
            "myPlex": True,
            "myPlexMappingState": "mapped",
            "myPlexSigninState": "ok",
            "myPlexSubscription": True,
            "myPlexUsername": "demo@example.com",
            "offlineTranscode": 1,
            "ownerFeatures": "hardware_transcoding,sync,webhooks",
            "platform": "Linux",
            "platformVersion": "12",
            "pluginHost": True,
            "pushNotifications": False,
            "readOnlyLibraries": False,
            "streamingBrainABRVersion": 3,
            "streamingBrainVersion": 2,
            "sync": True,
            "transcoderActiveVideoSessions": 0,
            "transcoderAudio": True,
            "transcoderLyrics": True,
            "transcoderPhoto": True,
            "transcoderSubtitles": True,
            "transcoderVideo": True,
            "transcoderVideoBitrates": "64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000",
            "transcoderVideoQualities": "0,1,2,3,4,5,6,7,8,9,10,11,12",
            "transcoderVideoResolutions": "128,128,160,240,320,480,768,720,720,1080,1080,1080,1080",
            "updatedAt": max((s.updated_at for s in self.catalog.sections.values()), default=0),
            "updater": True,
            "version": server.version,
            "voiceSearch": True,
        }
        return pms_response(response_format(request), Node("MediaContainer", attrs, directories))

    async def library(self, request: Request) -> Response:
        keys = (
            ("sections", "Library Sections"),
            ("recentlyAdded", "Recently Added Content"),
            ("onDeck", "On Deck"),
        )
        directories = [Node("Directory", {"key": key, "title": title}) for key, title in keys]
        attrs = {
            "size": len(directories),
            **LIBRARY_ATTRS,
            "allowSync": False,
            "art": "/:/resources/library-art.jpg",
            "content": "",
            "title1": "Plex Library",
            "title2": "",
        }
        return pms_response(response_format(request), Node("MediaContainer", attrs, directories))

    async def sections(self, request: Request) -> Response:
        directories = [_section_node(section) for section in self.catalog.sections.values()]
        attrs = {"size": len(directories), "allowSync": False, "title1": "Plex Library"}
        return pms_response(response_format(request), Node("MediaContainer", attrs, directories))

    async def section(self, request: Request) -> Response:
        section = self._section(request)
        if section is None:
            return not_found()
        names = (
            ("all", f"All {_PLURALS[section.type]}"),
            ("recentlyAdded", "Recently Added"),
            ("onDeck", "On Deck"),
        )
        directories = [Node("Directory", {"key": key, "title": title}) for key, title in names]
        attrs = {"size": len(directories), **self._section_attrs(section), "content": "secondary"}
        attrs.update({"viewGroup": "secondary", "viewMode": 65592})
        return pms_response(response_format(request), Node("MediaContainer", attrs, directories))

    async def all(self, request: Request) -> Response:
        section = self._section(request)
        if section is None:
            return not_found()
        type_name = _requested_type(request, SECTION_TYPES[section.type][0])
        params = request.query_params
        conditions = parse_conditions(params.multi_items())
        sorts = parse_sort(params.get("sort"))
        if type_name in SECTION_TYPES[section.type]:
            items = self.server.listing(section, type_name, conditions, sorts)
        else:
            items = []
        fmt = response_format(request)
        attrs = self._section_attrs(section)
        attrs.update({"title2": f"All {_PLURALS[type_name]}", "viewGroup": type_name, "viewMode": 65592})
        nodes = [_meta(section)] if params.get("includeMeta") == "1" else []
        return paged_items(request, fmt, items, guid_flag(request, GUIDS), attrs, nodes)

    async def section_leaves(self, request: Request) -> Response:
        section = self._section(request)
        if section is None:
            return not_found()
        leaf_type = SECTION_TYPES[section.type][-1]
        items = self.server.listing(section, leaf_type, (), ())
        attrs = {**self._section_attrs(section), "viewGroup": leaf_type}
        return paged_items(request, response_format(request), items, guid_flag(request, GUIDS), attrs)

    async def collections(self, request: Request) -> Response:
        section = self._section(request)
        if section is None:
            return not_found()
        nodes = [_meta(section)] if request.query_params.get("includeMeta") == "1" else []
        return paged_items(request, response_format(request), [], 0, self._section_attrs(section), nodes)

    async def refresh(self, request: Request) -> Response:
        """A client asking for a scan: the same activity notifications as `FakePlexServer.scan_section`."""
        if self._section(request) is None:
            return not_found()
        if request.method != "DELETE":  # DELETE cancels a scan; this one has already finished
            self.server.scan_section(request.path_params["sid"])
        return Response(b"", media_type="text/html")

    async def recently_added(self, request: Request) -> Response:
        # Real servers group new episodes into their seasons here; this fake lists the leaves.
        sid = request.path_params.get("sid")
        sections = [s for s in self.catalog.sections.values() if sid is None or s.id == sid]
        if sid is not None and not sections:
            return not_found()
        lists = [
            self.server.listing(section, kind, (), _NEWEST)
            for section in sections
            for kind in SECTION_TYPES[section.type]
            if kind in LEAF_TYPES
        ]
        items = list(heapq.merge(*lists, key=lambda item: -item.added_at))
        flags = SECTION | guid_flag(request, GUIDS)
        attrs = {**LIBRARY_ATTRS, "mixedParents": True, "title1": "Recently Added"}
        return paged_items(request, response_format(request), items, flags, attrs)

    async def on_deck(self, request: Request) -> Response:
        started = [item for item in self.catalog.items.values() if item.is_leaf and item.view_offset > 0]
        started.sort(key=lambda item: -(item.last_viewed_at or 0))
        attrs = {**LIBRARY_ATTRS, "mixedParents": True, "title1": "On Deck"}
        return paged_items(
            request, response_format(request), started, SECTION | guid_flag(request, GUIDS), attrs
        )

    async def metadata(self, request: Request) -> Response:
        keys = request.path_params["ids"].split(",")
        items = [item for key in keys if (item := self.catalog.get(key)) is not None]
        if not items:
            return not_found()
        attrs: dict[str, object] = dict(LIBRARY_ATTRS)
        sections = {item.section.id for item in items}
        if len(sections) == 1:
            section = items[0].section
            attrs.update(
                {
                    "librarySectionID": section.id,
                    "librarySectionTitle": section.title,
                    "librarySectionUUID": section.uuid,
                }
            )
        flags = DETAILS | STREAMS | asked_playback_flags(request)
        return paged_items(request, response_format(request), items, flags, attrs)

    async def children(self, request: Request) -> Response:
        parent = self.catalog.get(request.path_params["rk"])
        if parent is None:
            return not_found()
        fmt = response_format(request)
        items = sorted(parent.children.values(), key=lambda item: (item.index or 0, item.rating_key))
        flags = SECTION | guid_flag(request, GUIDS)
        attrs = self._parent_attrs(parent, CHILD_TYPE.get(parent.type, ""))
        if parent.type == SHOW and len(items) > 1 and request.query_params.get("excludeAllLeaves") != "1":
            return self._with_all_episodes(request, fmt, parent, items, flags, attrs)
        return paged_items(request, fmt, items, flags, attrs)

    def _with_all_episodes(
        self,
        request: Request,
        fmt: str,
        show: Item,
        seasons: list[Item],
        flags: int,
        attrs: dict[str, object],
    ) -> Response:
        # A real show with several seasons lists an "All episodes" entry first (no ratingKey, no type).
        entry = {
            "leafCount": show.leaf_count(),
            "thumb": thumb(show),
            "viewedLeafCount": show.watched_leaf_count(),
            "key": f"/library/metadata/{show.rating_key}/allLeaves",
            "title": "All episodes",
        }
        node = Node("Directory", entry, json_key="Metadata")
        rendered = [fragment(item, fmt, flags) for item in seasons]
        container = {"size": len(rendered) + 1, **attrs}
        return pms_response(fmt, Node("MediaContainer", container, [node], fragments=rendered))

    def _parent_attrs(self, parent: Item, child_type: str) -> dict[str, object]:
        section = parent.section
        attrs: dict[str, object] = {
            **LIBRARY_ATTRS,
            "art": f"/library/metadata/{parent.rating_key}/art/{parent.updated_at}",
            "key": str(parent.rating_key),
            "librarySectionID": section.id,
            "librarySectionTitle": section.title,
            "librarySectionUUID": section.uuid,
            "nocache": True,
            "parentIndex": parent.index,
            "parentTitle": parent.title,
            "parentYear": parent.year,
            "summary": parent.summary or None,
            "thumb": thumb(parent),
            "title1": parent.parent.title if parent.parent else section.title,
            "title2": parent.title,
            "viewGroup": child_type,
            "viewMode": 65593,
        }
        if parent.parent is not None:
            attrs.update(
                {"grandparentRatingKey": parent.parent.rating_key, "grandparentTitle": parent.parent.title}
            )
        return attrs

    async def leaves(self, request: Request) -> Response:
        parent = self.catalog.get(request.path_params["rk"])
        if parent is None:
            return not_found()
        items = list(parent.leaves())
        attrs = self._parent_attrs(parent, items[0].type if items else EPISODE)
        return paged_items(
            request, response_format(request), items, SECTION | guid_flag(request, GUIDS), attrs
        )

    def _matching(self, request: Request) -> list[Item]:
        text = (request.query_params.get("query") or "").casefold()
        sid = request.query_params.get("sectionId")
        if not text:
            return []
        return [
            item
            for item in self.catalog.items.values()
            if text in item.title.casefold() and (sid is None or str(item.section.id) == sid)
        ]

    async def hub_search(self, request: Request) -> Response:
        fmt = response_format(request)
        limit = int(request.query_params.get("limit") or 10)
        found = self._matching(request)
        hubs = []
        for kind in (MOVIE, SHOW, "season", EPISODE, ARTIST, ALBUM, TRACK):
            matches = [item for item in found if item.type == kind]
            if not matches:
                continue
            shown = matches[:limit]
            attrs = {
                "title": _PLURALS[kind],
                "type": kind,
                "hubIdentifier": kind,
                "context": f"hub.{kind}",
                "hubKey": "/library/metadata/" + ",".join(str(item.rating_key) for item in shown),
                "size": len(shown),
                "more": len(matches) > len(shown),
                "style": "shelf",
            }
            hubs.append(Node("Hub", attrs, fragments=[fragment(item, fmt, SECTION) for item in shown]))
        return pms_response(fmt, Node("MediaContainer", {"size": len(hubs)}, hubs))

    async def search(self, request: Request) -> Response:
        found = self._matching(request)
        return paged_items(request, response_format(request), found, SECTION, {**LIBRARY_ATTRS})

    async def empty(self, request: Request) -> Response:
        return pms_response(response_format(request), Node("MediaContainer", {"size": 0}))


def _requested_type(request: Request, default: str) -> str:
    raw = request.query_params.get("type")
    if raw is None or raw == "":
        return default
    if raw.isdigit() and int(raw) in TYPE_NAMES:
        return TYPE_NAMES[int(raw)]
    if raw in TYPE_NUMBERS:
        return raw
    raise QueryError(f"unknown type {raw!r}")


def _section_node(section: Section) -> Node:
    # The community spec says `hidden` is a boolean; real servers send 0/1 numbers in JSON. Left out.
    attrs = {
        "allowSync": True,
        "art": f"/:/resources/{section.type}-fanart.jpg",
        "composite": f"/library/sections/{section.id}/composite/{section.updated_at}",
        "filters": True,
        "refreshing": section.refreshing,
        "thumb": f"/:/resources/{section.type}.png",
        "key": str(section.id),
        "type": section.type,
        "title": section.title,
        "agent": section.agent,
        "scanner": section.scanner,
        "language": section.language,
        "uuid": section.uuid,
        "updatedAt": section.updated_at,
        "createdAt": section.created_at,
        "scannedAt": section.scanned_at,
        "content": True,
        "directory": True,
        "contentChangedAt": section.updated_at,
    }
    return Node("Directory", attrs, [Node("Location", {"id": section.id, "path": section.location})])


def _meta(section: Section) -> Node:
    types = []
    for kind in SECTION_TYPES[section.type]:
        prefix = "" if kind == SECTION_TYPES[section.type][0] else f"{kind}."
        fields = [
            Node("Field", {"key": f"{prefix}{key}", "title": title, "type": t})
            for key, title, t in _META_FIELDS
        ]
        sorts = [
            Node("Sort", {"defaultDirection": d, "descKey": f"{key}:desc", "key": key, "title": title})
            for key, title, d in _META_SORTS
        ]
        attrs = {
            "key": f"/library/sections/{section.id}/all?type={TYPE_NUMBERS[kind]}",
            "type": kind,
            "title": _PLURALS[kind],
            "active": kind == SECTION_TYPES[section.type][0],
        }
        types.append(Node("Type", attrs, [*fields, *sorts]))
    field_types = [
        Node(
            "FieldType",
            {"type": kind},
            [Node("Operator", {"key": key, "title": title}) for key, title in operators],
        )
        for kind, operators in _OPERATORS.items()
    ]
    return Node("Meta", {}, [*types, *field_types], single=True)

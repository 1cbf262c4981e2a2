"""The registry of backend kinds and of live backends, in the order a person sees sources."""

import abc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from reeld.backends.base import MediaBackend
from reeld.errors import BackendUnavailable
from reeld.models.auth import AccountKind, AuthProvider
from reeld.models.source import Source


@dataclass(frozen=True, slots=True)
class BackendServices:
    """What a backend kind may use from the daemon, handed in so tests can replace it."""

    #: ``await secret(account, name)``: a secret from the keyring (raises ``AuthRequired``).
    secret: Callable[[AuthProvider, str], Awaitable[str]]
    #: ``await store_secret(account, name, value)``.
    store_secret: Callable[[AuthProvider, str, str], Awaitable[None]]
    #: ``await install_fact(key, make)``: a per-install value (device ids), created once.
    install_fact: Callable[[str, Callable[[], str]], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Discovery:
    """The sources an account has now. ``complete`` is False when the account's service could not
    be asked (cached sources then stay, with ``message`` as their reason)."""

    sources: list[Source] = field(default_factory=list)
    complete: bool = True
    message: str = ""


class BackendKind(abc.ABC):
    """One kind of account: how to find its sources and make a backend for each."""

    account_kind: AccountKind

    @abc.abstractmethod
    async def discover(self, account: AuthProvider, services: BackendServices) -> Discovery: ...

    def source_secret_names(self, source: Source) -> tuple[str, ...]:
        """Keyring entries (of the account) that belong to one source: removed with it."""
        return ()

    def secrets_deleted(self, account_id: str, names: tuple[str, ...]) -> None:
        """Those keyring entries of the account are gone (its source was removed): a kind that
        remembers what it stored must store them again when the source comes back."""
        return None

    @abc.abstractmethod
    def create_backend(
        self, source: Source, account: AuthProvider, services: BackendServices
    ) -> MediaBackend: ...


class BackendManager:
    """Live backends by source id, kept in the sources' display order, and the kinds that make them."""

    def __init__(self, kinds: list[BackendKind]) -> None:
        self.kinds = {kind.account_kind: kind for kind in kinds}
        self._live: dict[str, MediaBackend] = {}
        self._order: list[str] = []

    def kind_for(self, account: AuthProvider) -> BackendKind:
        return self.kinds[account.kind]

    def set_order(self, source_ids: list[str]) -> None:
        self._order = list(source_ids)

    def register(self, backend: MediaBackend) -> None:
        self._live[backend.source_id] = backend
        if backend.source_id not in self._order:
            self._order.append(backend.source_id)

    def unregister(self, source_id: str) -> MediaBackend | None:
        return self._live.pop(source_id, None)

    def get(self, source_id: str) -> MediaBackend:
        """The live backend of a source; ``BackendUnavailable`` when it is not connected."""
        try:
            return self._live[source_id]
        except KeyError:
            raise BackendUnavailable("The source is not connected right now") from None

    def __contains__(self, source_id: str) -> bool:
        return source_id in self._live

    def __iter__(self) -> Iterator[MediaBackend]:
        """Live backends in display order."""
        for source_id in self._order:
            backend = self._live.get(source_id)
            if backend is not None:
                yield backend

    async def aclose(self) -> None:
        for backend in list(self._live.values()):
            await backend.aclose()
        self._live.clear()

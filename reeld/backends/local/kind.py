"""Local folders as an account kind: one folder, one source, no credentials."""

import hashlib
from pathlib import Path

from reeld.backends.base import MediaBackend
from reeld.backends.manager import BackendKind, BackendServices, Discovery
from reeld.models.auth import AccountKind, AuthProvider, LocalFiles
from reeld.models.source import ConnectionKind, Source


def local_id(path: Path) -> str:
    """A stable id for a folder: the same folder added twice is one account."""
    return "local_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]


def local_account(path: Path) -> LocalFiles:
    return LocalFiles(
        id=local_id(path), display_name=path.name or str(path), identity=str(path), path=str(path)
    )


class LocalKind(BackendKind):
    account_kind = AccountKind.LOCAL

    async def discover(self, account: AuthProvider, services: BackendServices) -> Discovery:
        assert isinstance(account, LocalFiles)
        path = Path(account.path)
        source = Source(
            id=account.id,
            account_id=account.id,
            kind="local",
            name=account.display_name,
            address=path.as_uri(),
            connection_kind=ConnectionKind.FILE,
            settings={"path": account.path},
        )
        return Discovery([source])

    def create_backend(
        self, source: Source, account: AuthProvider, services: BackendServices
    ) -> MediaBackend:
        from reeld.backends.local.backend import LocalBackend

        assert isinstance(account, LocalFiles)
        return LocalBackend(source.id, account.path)

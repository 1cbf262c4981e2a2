"""reeld's one error tree.

Every failure the daemon knows about is a ``ReeldError``. Library errors (httpx, plexapi,
keyring, OSError) are translated into it once, at the boundary where they happen, with
``raise ... from exc``. The bus layer maps the tree to D-Bus error names in one place.

    ReeldError
    ├── NotFound              an unknown item, account, source, library or login id
    ├── InvalidArgument       a malformed argument from a client
    ├── AuthRequired          a person must log in again (credentials rejected or missing)
    │   └── SecretStoreUnavailable   no Secret Service, or a locked one
    ├── BackendUnavailable    transient: a server or folder cannot be reached now; retry later
    ├── BackendProtocolError  the server answered, but not in a way we understand
    ├── NotSupported          the operation does not exist for this kind of source
    ├── Busy                  the same thing is already under way
    └── CacheError            the local database failed
"""


class ReeldError(Exception):
    """Root of every error reeld raises on purpose. ``str(err)`` is safe to show a user."""


class NotFound(ReeldError):
    pass


class InvalidArgument(ReeldError):
    pass


class AuthRequired(ReeldError):
    pass


class SecretStoreUnavailable(AuthRequired):
    pass


class BackendUnavailable(ReeldError):
    pass


class ServerFailed(BackendUnavailable):
    """The server answered, with an error of its own (HTTP 5xx): it is there, but cannot do this now."""


class BackendProtocolError(ReeldError):
    pass


class NotSupported(ReeldError):
    pass


class Busy(ReeldError):
    pass


class CacheError(ReeldError):
    pass

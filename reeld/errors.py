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
    │   └── AnswerRefused     an answer reeld does not take: too large, or a redirect elsewhere
    ├── UntrustedCertificate  the server's TLS certificate is not trusted: stays so until someone acts
    ├── NotSupported          the operation does not exist for this kind of source
    ├── Busy                  the same thing is already under way
    └── CacheError            the local database failed
"""

#: What a message says of an exception no code expected (the log has its traceback).
FAULT_IN_REELD = "a fault in reeld; its log (journalctl --user -u reeld) says more"


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


class AnswerRefused(BackendProtocolError):
    """An answer reeld will not take whatever it says: more than it reads of one answer, or a
    redirect that would take a login to another address."""


class UntrustedCertificate(ReeldError):
    """A server's TLS certificate failed verification (self-signed, expired, another name). Not
    ``BackendUnavailable``: retrying alone does not fix it, so a source shows ``error``, not ``offline``."""


class NotSupported(ReeldError):
    pass


class Busy(ReeldError):
    pass


class CacheError(ReeldError):
    pass

"""structlog set-up, done once at the edge (the CLI), and the processor that redacts secrets."""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = frozenset(
    {"token", "password", "pw", "secret", "access_token", "accesstoken", "api_key", "apikey", "auth_token"}
)
REDACTED = "[redacted]"

# Query parameters, header-style pairs and MediaBrowser auth fields that carry a secret.
_SECRET_PATTERNS = [
    re.compile(r"(?i)((?:x-plex-token|api_?key|access_?token|token|password|pw)=)[^&\s\"',;]+"),
    re.compile(r'(?i)((?:token|pw|password)\s*=\s*")[^"]*'),
    re.compile(r"(?i)((?:x-plex-token|x-emby-token|x-mediabrowser-token)[\"']?\s*[:=]\s*[\"']?)[^\"'\s,;&]+"),
    re.compile(
        r'(?i)(["\'](?:token|password|pw|accesstoken|access_token|authtoken|authToken)["\']\s*:\s*["\'])[^"\']+'
    ),
]


def redact_text(value: str) -> str:
    """``value`` with every token, password and API key it carries replaced."""
    for pattern in _SECRET_PATTERNS:
        value = pattern.sub(lambda m: m.group(1) + REDACTED, value)
    return value


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(f"{value.__class__.__name__}: {value}")
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: no field of any event carries a secret."""
    for key, value in list(event_dict.items()):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(value)
    return event_dict


def _redact_rendered(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Tracebacks are rendered to text by format_exc_info; redact what they say too.
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


#: Libraries whose debug lines stay out of even a verbose log.
NOISY_LIBRARIES = ("rebulk", "guessit")


def configure_logging(verbose: bool = False, json: bool | None = None, level: int | None = None) -> None:
    """Console output on a terminal, JSON lines otherwise (the journal); always to stderr.

    A daemon started by bus activation has no stdout, hence stderr. Records of libraries that log
    through the standard library (httpx, alembic, apscheduler, websockets) go through the same
    processors, so they are redacted and rendered alike.
    """
    if level is None:
        level = logging.DEBUG if verbose else logging.INFO
    as_json = not sys.stderr.isatty() if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    finish: list[Any] = [structlog.processors.format_exc_info, _redact_rendered] if as_json else []
    structlog.configure(
        processors=[*shared, *finish, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared[1:], structlog.stdlib.add_logger_name, _redact_message],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Libraries stay quiet unless something is wrong, or we were asked for details.
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # guessit's rule engine logs some thirty lines for every name it reads: details of no one's use,
    # that buried the daemon's own lines (and slowed a verbose daemon's naming of a large folder).
    for chatty in NOISY_LIBRARIES:
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _redact_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict["event"] = redact_text(str(event_dict.get("event", "")))
    return event_dict

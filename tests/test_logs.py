"""No secret reaches a log line, whichever way it is logged."""

import json
import logging

import pytest
import structlog

from reeld.logs import configure_logging, redact_text

SECRETS = ["s3cr3t-plex", "jf-token-123", "hunter2", "apikey-987"]


@pytest.fixture(autouse=True)
def _reset_structlog():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_secrets_in_fields_urls_headers_and_tracebacks_are_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=True)
    log = structlog.get_logger("test")
    log.info("plex", url="https://10.0.0.2:32400/library/sections?X-Plex-Token=s3cr3t-plex")
    log.info("jf", headers={"Authorization": 'MediaBrowser Client="reeld", Token="jf-token-123"'})
    log.info("login", password="hunter2", nested={"token": "jf-token-123"})
    log.info("stream", url="http://jf:8096/Videos/1/stream?static=true&ApiKey=apikey-987")
    try:
        raise RuntimeError("GET http://jf:8096/Items?api_key=apikey-987 failed")
    except RuntimeError:
        log.exception("crash")
    logging.getLogger("httpx").warning("HTTP Request: GET http://pms/?X-Plex-Token=s3cr3t-plex")
    err = capsys.readouterr().err
    assert len(lines(err)) == 6
    for secret in SECRETS:
        assert secret not in err
    assert "[redacted]" in err


def test_console_rendering_redacts_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=False)
    structlog.get_logger().warning("x", url="http://h/?api_key=apikey-987", token="hunter2")
    err = capsys.readouterr().err
    assert "apikey-987" not in err and "hunter2" not in err


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("/library/metadata/5?X-Plex-Token=abc&x=1", "/library/metadata/5?X-Plex-Token=[redacted]&x=1"),
        ('{"authToken": "abc"}', '{"authToken": "[redacted]"}'),
        ("no secret here", "no secret here"),
    ],
)
def test_redact_text(text: str, kept: str) -> None:
    assert redact_text(text) == kept


def test_a_verbose_log_leaves_out_guessits_rule_engine(capsys: pytest.CaptureFixture[str]) -> None:
    from reeld.backends.local.classify import classify_guessit

    configure_logging(verbose=True, json=True)
    logging.getLogger("reeld.test").debug("ours")
    classify_guessit("Show/Season 1/Show - 02 - Title.mkv")
    logged = lines(capsys.readouterr().err)
    assert any(line["event"] == "ours" for line in logged)
    assert not [line for line in logged if str(line.get("logger", "")).startswith(("rebulk", "guessit"))]

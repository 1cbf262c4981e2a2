"""A subscriber that fails is logged with its exception and does not stop the others."""

import json

import pytest
import structlog

from reeld.logs import configure_logging
from reeld.services import events as ev


@pytest.fixture(autouse=True)
def _reset_structlog():
    yield
    structlog.reset_defaults()


def test_a_failing_subscriber_is_logged_and_the_next_one_still_hears_the_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=True)
    hub = ev.EventHub()
    heard: list[ev.Event] = []

    def broken(event: ev.Event) -> None:
        raise RuntimeError("subscriber bug")

    hub.subscribe(broken)
    hub.subscribe(heard.append)

    hub.emit(ev.SourceChanged("s1"))  # must not raise

    assert heard == [ev.SourceChanged("s1")]
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    failure = next(record for record in records if record["event"] == "event_subscriber_failed")
    assert failure["event_type"] == "SourceChanged"
    assert "subscriber bug" in failure["exception"]

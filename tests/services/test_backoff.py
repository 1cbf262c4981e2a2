"""Pauses between retries grow, up to their cap, however long a server stays away."""

from reeld.services.backoff import Backoff


def test_pauses_double_with_jitter_up_to_the_cap_even_after_weeks_of_retries() -> None:
    backoff = Backoff(first_s=2.0, max_s=600.0)
    first, second = backoff.next_delay(), backoff.next_delay()
    assert 1.5 <= first <= 2.5 and 3.0 <= second <= 5.0
    backoff.attempt = 5_000  # a week of retries at the cap: 2**5000 s would overflow a float
    assert 450.0 <= backoff.next_delay() <= 750.0
    backoff.reset()
    assert backoff.next_delay() <= 2.5


def test_pauses_can_grow_more_gently_than_doubling() -> None:
    backoff = Backoff(first_s=2.0, max_s=120.0, factor=1.3)
    pauses = [backoff.next_delay() for _ in range(3)]
    assert 1.5 <= pauses[0] <= 2.5 and 1.95 <= pauses[1] <= 3.25 and 2.5 <= pauses[2] <= 4.3

"""Exponential backoff with jitter, so many clients recovering at once do not stampede a server."""

import random
from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    first_s: float = 2.0
    max_s: float = 600.0
    attempt: int = 0
    #: How much longer each pause is than the one before.
    factor: float = 2.0

    def next_delay(self) -> float:
        delay = min(
            self.max_s, self.first_s * self.factor ** min(self.attempt, 60)
        )  # no overflow after weeks
        self.attempt += 1
        return delay * random.uniform(0.75, 1.25)

    def reset(self) -> None:
        self.attempt = 0

"""BuildKit's plain progress, read as it comes: each step's text, which were cached, which ran.

BuildKit prints a step's header (``#12 [api build 4/6] RUN go build ...``) when the step
starts and ``#12 CACHED`` right after it when the cache answers; any other line of ``#12``
(its output, ``DONE``, ``ERROR``) means it ran. A header still alone after a short grace
means the step is running (a silent ``go build`` prints nothing until ``DONE``); before the
grace, the step is undecided.

A step starts only once the steps it builds on are over, and BuildKit prints their ``CACHED``
or ``DONE`` first: when a step has started, what it depends on is known.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

_HEADER = re.compile(r"^#(\d+) \[[^\]]+\] (.+)$")
_CACHED = re.compile(r"^#(\d+) CACHED\s*$")
_OTHER = re.compile(r"^#(\d+) ")


@dataclass
class BuildSteps:
    grace_s: float = 1.5
    texts: dict[str, str] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)
    _started: dict[str, float] = field(default_factory=dict)

    def feed(self, line: str, now: float | None = None) -> None:
        line = line.rstrip()
        if header := _HEADER.match(line):
            number = header.group(1)
            self.texts.setdefault(number, header.group(2))
            self._started.setdefault(number, time.monotonic() if now is None else now)
        elif cached := _CACHED.match(line):
            self.cached.add(cached.group(1))
        elif other := _OTHER.match(line):
            self.ran.add(other.group(1))

    def feed_all(self, log: str) -> BuildSteps:
        for line in log.splitlines():
            self.feed(line)
        return self

    def running(self, now: float | None = None) -> list[str]:
        """The texts of the steps that ran (or run), in order; ``now=None``: the build is over."""
        done = []
        for number, text in self.texts.items():
            if number in self.cached:
                continue
            settled = now is None or now - self._started[number] >= self.grace_s
            if number in self.ran or settled:
                done.append(text)
        return done

    def started(self) -> list[str]:
        """The texts of every step whose header has appeared, cached or not, in order."""
        return list(self.texts.values())

    def undecided(self, now: float) -> list[str]:
        """The texts of the steps not yet known to be cached or running: a header alone, within
        the grace (``CACHED`` may still come)."""
        return [
            text
            for number, text in self.texts.items()
            if number not in self.cached
            and number not in self.ran
            and now - self._started[number] < self.grace_s
        ]

"""Reading BuildKit's plain progress as it comes: cached steps, steps that ran, silent running steps."""

from __future__ import annotations

from harness.buildlog import BuildSteps

LOG = """\
#5 [api build 1/4] FROM docker.io/library/debian:bookworm-slim
#5 DONE 0.0s
#6 [api build 2/4] RUN apt-get update && apt-get install -y golang-go
#6 CACHED
#7 [api build 3/4] COPY main.go .
#7 DONE 0.1s
#8 [api build 4/4] RUN go build -o /api main.go
"""


def test_cached_steps_are_not_counted_as_run() -> None:
    steps = BuildSteps().feed_all(LOG + "#8 DONE 14.2s\n")
    assert steps.running() == [
        "FROM docker.io/library/debian:bookworm-slim",
        "COPY main.go .",
        "RUN go build -o /api main.go",
    ]


def test_a_silent_step_counts_as_running_only_after_the_grace() -> None:
    steps = BuildSteps(grace_s=1.5)
    for line in LOG.splitlines():
        steps.feed(line, now=100.0)
    assert "RUN go build -o /api main.go" not in steps.running(now=100.5)
    assert "RUN go build -o /api main.go" in steps.running(now=101.6)


def test_a_step_with_output_runs_at_once() -> None:
    steps = BuildSteps()
    steps.feed("#6 [api build 2/4] RUN apt-get update", now=10.0)
    steps.feed("#6 0.215 Get:1 http://deb.debian.org/debian bookworm InRelease", now=10.2)
    assert steps.running(now=10.2) == ["RUN apt-get update"]


def test_a_header_alone_is_undecided_until_cached_output_or_the_grace() -> None:
    steps = BuildSteps(grace_s=1.5)
    for line in LOG.splitlines():
        steps.feed(line, now=100.0)
    assert steps.undecided(now=100.2) == ["RUN go build -o /api main.go"]
    assert steps.undecided(now=101.6) == []
    assert steps.started()[-1] == "RUN go build -o /api main.go"
    steps.feed("#8 CACHED", now=100.3)
    assert steps.undecided(now=100.3) == []
    assert "RUN go build -o /api main.go" not in steps.running(now=101.6)

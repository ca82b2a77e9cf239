"""Checks written with the public API only, on app/: `web` (healthy, uid 1000, restart on-failure)
and `broken` (exits at once). tests/integration/test_public_api.py says what each must give."""

from __future__ import annotations

from harness import Grading, Stack, check


def _app(grading: Grading) -> Stack:
    return grading.stack("app")


@check("api.alone")
def test_web_alone_starts_healthy_as_its_user(grading: Grading) -> None:
    web = _app(grading).up(services=["web"]).service("web")
    log = web.wait_healthy()
    assert any("bien portant" in line for line in log), log
    assert web.process_uid() == 1000, web.process_uid()
    assert web.user() == "1000", web.user()


@check("api.everything")
def test_every_service(grading: Grading) -> None:
    _app(grading).up()


@check("api.alone_again")
def test_web_alone_after_the_whole_project_failed(grading: Grading) -> None:
    _app(grading).up(services=["web"]).service("web").wait_healthy()


@check("api.recreate")
def test_recreate_gives_a_new_container_on_the_same_volume(grading: Grading) -> None:
    stack = _app(grading).up(services=["web"])
    web = stack.service("web")
    before = web.state().id
    assert web.exec("sh", "-c", "echo gardé > /data/marque").exit_code == 0
    web = stack.recreate("web")
    assert web.state().id != before, "a new container"
    assert web.exec("cat", "/data/marque").output.strip() == "gardé", "its named volume kept"


@check("api.declared")
def test_declared_and_effective_configuration(grading: Grading) -> None:
    web = _app(grading).service("web")
    assert web.restart_policy() == "on-failure:3", web.restart_policy()
    assert "mem_limit" not in web.declared, web.declared
    assert int(web.effective["mem_limit"]) > 0, web.effective
    assert _app(grading).final_base("web") == "debian:bookworm-slim"


@check("api.down")
def test_down_leaves_nothing(grading: Grading) -> None:
    stack = _app(grading).up(services=["web"])
    assert stack.leftovers(), "a running project has containers and networks"
    left = stack.down().leftovers()
    assert not left, left

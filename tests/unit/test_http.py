"""The HTTP client of checks and readiness, against tiny servers on 127.0.0.1 (no Docker)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import http_client
from harness.errors import ServiceNotReady, SubmissionError
from harness.http_client import HttpResponse, HttpTimeout, HttpTooLarge, HttpUnreachable, request
from harness.target import Service, http_answers

Handler = Callable[[socket.socket, bytes], None]


class Server:
    """Accepts connections on 127.0.0.1 and lets ``handler`` answer each (raw bytes, any pace)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            received = b""
            connection.settimeout(5)
            try:
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                self.requests.append(received)
                self.handler(connection, received)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Server]]:
    servers: list[Server] = []

    def start(handler: Handler) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _answer(status: str, body: bytes, *headers: str) -> Handler:
    def handler(connection: socket.socket, _request: bytes) -> None:
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers, "", ""]
        connection.sendall("\r\n".join(head).encode() + body)

    return handler


def _drip(payload: bytes, every: float = 0.2, at_once: bytes = b"") -> Handler:
    """``at_once`` right away, then ``payload`` one byte at a time, for as long as the client listens."""

    def handler(connection: socket.socket, _request: bytes) -> None:
        connection.sendall(at_once)
        for byte in payload:
            connection.sendall(bytes([byte]))
            time.sleep(every)

    return handler


def test_a_plain_answer_comes_back_with_its_status_body_and_headers(serve: Any) -> None:
    server = serve(_answer("201 Created", b'{"ok": true}', "Content-Type: application/json"))
    response = request("POST", server.port, "/x", timeout=5, json={"a": 1})
    assert (response.status, response.json()) == (201, {"ok": True})
    assert response.headers["content-type"] == response.headers["Content-Type"] == "application/json"
    sent = server.requests[0].lower()
    assert b"accept-encoding: identity" in sent, "the client asks for an uncompressed answer"
    assert sent.startswith(b"post /x http/1.1")


@pytest.mark.parametrize(
    ("at_once", "payload"),
    [
        (b"", b"HTTP/1.1 200 OK\r\n" + b"X-Slow: y\r\n" * 1000),  # the headers drip
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"x" * 1000),  # headers at once, body drips
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n" * 1000),
        (b"HTTP/1.0 200 OK\r\n\r\n", b"x" * 1000),  # a body that ends when the server closes
    ],
)
def test_a_server_answering_one_byte_at_a_time_is_cut_at_the_deadline(
    serve: Any, at_once: bytes, payload: bytes
) -> None:
    server = serve(_drip(payload, every=0.05, at_once=at_once))
    started = time.monotonic()
    with pytest.raises(HttpTimeout):
        request("GET", server.port, timeout=1.0)
    assert time.monotonic() - started < 1.5, "the deadline is wall-clock, not per socket read"


def test_readiness_does_not_count_a_dripping_server_as_answering(serve: Any) -> None:
    server = serve(_drip(b"HTTP/1.1 200 OK\r\n" * 100, every=0.1))
    started = time.monotonic()
    assert not http_answers(server.port, timeout=0.5)
    assert time.monotonic() - started < 1.0
    quick = serve(_answer("503 Service Unavailable", b"later"))
    assert http_answers(quick.port), "any status counts"


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HttpUnreachable):
        request("GET", port, timeout=2)
    assert not http_answers(port)


def test_a_body_over_the_cap_is_refused_announced_or_streamed(serve: Any) -> None:
    announced = serve(_answer("200 OK", b"x" * 2048))
    with pytest.raises(HttpTooLarge):
        request("GET", announced.port, timeout=5, max_body=1024)

    def endless(connection: socket.socket, _request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        while True:
            connection.sendall(b"y" * 65536)

    streamed = serve(endless)
    with pytest.raises(HttpTooLarge):
        request("GET", streamed.port, timeout=10, max_body=1024 * 1024)


def test_a_gzip_bomb_is_inflated_only_up_to_the_cap_in_bounded_memory(serve: Any) -> None:
    inflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    bomb = b"".join(inflater.compress(zeros) for _ in range(256)) + inflater.flush()  # 256 MiB of zeros
    server = serve(_answer("200 OK", bomb, "Content-Encoding: gzip"))
    tracemalloc.start()
    try:
        with pytest.raises(HttpTooLarge):
            request("GET", server.port, timeout=10)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * http_client.MAX_BODY, f"peak {peak / 2**20:.0f} MiB while inflating"


def test_a_compressed_answer_within_the_cap_is_inflated(serve: Any) -> None:
    body = gzip.compress(b"bonjour ") + gzip.compress(b"tout le monde")  # two gzip members
    server = serve(_answer("200 OK", body, "Content-Encoding: gzip"))
    assert request("GET", server.port, timeout=5).text == "bonjour tout le monde"
    deflated = serve(_answer("200 OK", zlib.compress(b"salut"), "Content-Encoding: deflate"))
    assert request("GET", deflated.port, timeout=5).body == b"salut"
    stacked = serve(_answer("200 OK", b"x", "Content-Encoding: gzip, gzip, gzip"))
    with pytest.raises(HttpUnreachable, match="3 content codings"):
        request("GET", stacked.port, timeout=5)


def test_redirects_are_followed_only_on_the_same_address_and_port(serve: Any) -> None:
    def redirect(connection: socket.socket, received: bytes) -> None:
        if received.startswith(b"GET /final"):
            _answer("200 OK", b"here")(connection, received)
        elif received.startswith(b"GET /away"):
            _answer("302 Found", b"", "Location: http://192.0.2.1/steal")(connection, received)
        else:
            _answer("301 Moved", b"", "Location: /final")(connection, received)

    server = serve(redirect)
    assert request("GET", server.port, "/start", timeout=5).text == "here"
    away = request("GET", server.port, "/away", timeout=5)
    assert away.status == 302, "a redirect off 127.0.0.1 is returned, never followed"
    assert len(server.requests) == 3


def test_json_nested_too_deep_fails_the_check_with_a_sentence() -> None:
    deep = HttpResponse(200, b"[" * 100_000 + b"]" * 100_000, {})
    with pytest.raises(SubmissionError, match="64 niveaux"):
        deep.json()
    fine = "[" * 64 + "]" * 64
    assert http_client.json_depth(fine) == 64
    assert HttpResponse(200, fine.encode(), {}).json() is not None


def test_brackets_inside_json_strings_do_not_count() -> None:
    text = '{"a": "[[[[{{{{\\"[[[[", "b": [1, {"c": "]]]]"}]}'
    assert http_client.json_depth(text) == 3
    assert HttpResponse(200, text.encode(), {}).json()["a"] == '[[[[{{{{"[[[['


def test_the_depth_scan_is_linear_even_on_unterminated_strings() -> None:
    started = time.monotonic()
    http_client.json_depth('"' + '\\"' * 2_000_000)
    http_client.json_depth('"a' * 1_000_000)
    assert time.monotonic() - started < 2.0


def test_not_json_is_a_value_error_for_the_check_to_word() -> None:
    with pytest.raises(ValueError):
        HttpResponse(200, b"<html>", {}).json()


class _FixedPortService(Service):
    def __init__(self, port: int) -> None:
        super().__init__(stack=None, name="web")  # type: ignore[arg-type]
        self._port = port

    def host_port(self, port: int) -> int:
        return self._port


def test_a_check_gets_a_sentence_when_the_service_is_too_slow(serve: Any) -> None:
    server = serve(_drip(b"HTTP/1.1 200 OK\r\n" * 100, every=0.1))
    started = time.monotonic()
    with pytest.raises(ServiceNotReady, match=r"n'a pas fini de répondre à GET / en 1 secondes"):
        _FixedPortService(server.port).get("/", port=80, timeout=1.0)
    assert time.monotonic() - started < 1.5, "a slow answer is not retried"


def test_a_check_gets_a_sentence_when_the_answer_is_too_large(serve: Any) -> None:
    def announced(connection: socket.socket, _request: bytes) -> None:
        connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {20 * 2**20}\r\n\r\nx".encode())

    server = serve(announced)
    with pytest.raises(SubmissionError, match="dépasse 16 Mio"):
        _FixedPortService(server.port).get("/", port=80)


def test_a_refused_connection_is_retried_within_the_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ServiceNotReady, match="ne répond pas sur le port 80"):
        _FixedPortService(port).http("GET", "/", port=80, timeout=2.0, retries=10)
    assert 0.4 < time.monotonic() - started < 2.5

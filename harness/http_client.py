"""HTTP to a submission's services: 127.0.0.1 only, bounded in time, size and depth.

``requests`` bounds each socket operation, not the request: a server that answers one byte a
second keeps it reading for ever, and it inflates a compressed answer without limit. Here a
request is ``http.client`` under a watchdog that shuts the socket down at a wall-clock
deadline (connect, headers and body alike), reads at most :data:`MAX_BODY` bytes, asks for an
uncompressed answer and, when the server compresses anyway, inflates at most :data:`MAX_BODY`
bytes. :meth:`HttpResponse.json` refuses JSON nested deeper than :data:`MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import contextlib
import http.client
import json as jsonlib
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .errors import SubmissionError
from .i18n import _

LOOPBACK = "127.0.0.1"
#: Largest body read, and largest body a compressed answer may inflate to.
MAX_BODY = 16 * 1024 * 1024
#: Deepest nesting of arrays and objects that :meth:`HttpResponse.json` parses.
MAX_JSON_DEPTH = 64
MAX_REDIRECTS = 5
#: More content codings than this on one answer is a decompression bomb, not a server.
MAX_CODINGS = 2
_READ_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HttpFailure(Exception):
    """No usable answer came back; the subclass says why (``target`` words it for the student)."""


class HttpUnreachable(HttpFailure):
    """Nothing answered in HTTP: refused, reset, closed early, or not HTTP at all."""


class HttpTimeout(HttpFailure):
    """The whole exchange (connect, headers, body) did not end before its deadline."""


class HttpTooLarge(HttpFailure):
    """The body, or what it inflates to, is over the cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


class Headers(Mapping[str, str]):
    """Response headers; names compare without case, as HTTP says (repeated ones are joined)."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._by_lower: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            known = self._by_lower.get(name.lower())
            self._by_lower[name.lower()] = (name, f"{known[1]}, {value}" if known else value)

    def __getitem__(self, name: str) -> str:
        return self._by_lower[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _value in self._by_lower.values())

    def __len__(self) -> int:
        return len(self._by_lower)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_lower

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON. Not JSON raises ValueError; nested too deep fails the check."""
        text = self.body.decode("utf-8")
        check_json_depth(text)
        return jsonlib.loads(text)


# A JSON string (possibly unterminated) or one bracket. Possessive: no backtracking, linear time.
_JSON_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[\[\]{}]', re.DOTALL)


def json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays and objects nest in ``text`` (brackets inside strings do not count),
    found by one linear scan; the scan stops once ``limit`` is passed."""
    depth = deepest = 0
    for token in _JSON_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif bracket in ("]", "}"):
            depth = max(0, depth - 1)
    return deepest


def check_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Fail the check when ``text`` nests deeper than ``limit``: parsing it would exhaust the stack."""
    if json_depth(text, limit) > limit:
        raise SubmissionError(
            _(
                "La réponse JSON est imbriquée sur plus de {limit} niveaux : le correcteur ne la lit "
                "pas. Renvoyez une structure moins profonde."
            ).format(limit=limit)
        )


class _Watchdog:
    """Shuts a socket down at the deadline: a read blocked on a slow server returns at once,
    whatever the server still trickles.

    It holds the socket itself: once the headers are in, ``http.client`` hands the socket over to
    the response and the connection forgets it.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            with contextlib.suppress(OSError):  # already closed: nothing left to stop
                self._sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Never fire after this returns (so the socket can be closed safely)."""
        self._timer.cancel()
        with self._lock:
            pass


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise HttpTimeout("deadline passed")
    return left


def _read_body(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    if response.length is not None and response.length > limit:
        raise HttpTooLarge(limit)
    body = bytearray()
    while chunk := response.read(_READ_CHUNK):
        body += chunk
        if len(body) > limit:
            raise HttpTooLarge(limit)
        _remaining(deadline)
    return bytes(body)


def _inflate_one(data: bytes, wbits: int, limit: int) -> bytes:
    """``data`` decompressed, never producing more than ``limit`` bytes (gzip members in a row too)."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits)
        out += inflater.decompress(data, limit - len(out) + 1)
        if len(out) > limit:
            raise HttpTooLarge(limit)
        if not inflater.eof:
            break  # truncated stream: keep what came out, as a browser would
        data = inflater.unused_data
    return bytes(out)


def decode_body(body: bytes, content_encoding: str, limit: int = MAX_BODY) -> bytes:
    """Undo the content codings a server applied although it was asked for none; bounded by ``limit``."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_CODINGS:
        raise HttpUnreachable(f"{len(codings)} content codings stacked")
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            wbits = 16 + zlib.MAX_WBITS
        elif coding == "deflate":
            # RFC 9110's deflate is zlib-wrapped; some servers send it raw.
            wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
        else:
            return body  # a coding the checks cannot read (br, zstd): left as it came
        try:
            body = _inflate_one(body, wbits, limit)
        except zlib.error as exc:
            raise HttpUnreachable(f"undecodable {coding} body") from exc
    return body


def _exchange(
    method: str,
    port: int,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str],
    deadline: float,
    read_body: bool,
    limit: int,
) -> HttpResponse:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=_remaining(deadline))
    response: http.client.HTTPResponse | None = None
    watchdog: _Watchdog | None = None
    try:
        try:
            connection.connect()  # bounded by the socket timeout: the watchdog needs the socket
            assert connection.sock is not None
            watchdog = _Watchdog(connection.sock, _remaining(deadline))
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            raw = _read_body(response, limit, deadline) if read_body else b""
        except (OSError, http.client.HTTPException) as exc:
            if (watchdog is not None and watchdog.fired) or isinstance(exc, TimeoutError):
                raise HttpTimeout("deadline passed") from exc
            raise HttpUnreachable(type(exc).__name__) from exc
        if watchdog.fired:  # the shutdown can read as a clean end of the body
            raise HttpTimeout("deadline passed")
    finally:
        if watchdog is not None:
            watchdog.stop()
        if response is not None:
            response.close()
        connection.close()
    answer = Headers(response.getheaders())
    if read_body:
        raw = decode_body(raw, answer.get("Content-Encoding", ""), limit)
    return HttpResponse(response.status, raw, answer)


def _encode(data: bytes | str | Mapping[str, Any] | None, json: Any, headers: dict[str, str]) -> bytes | None:
    if json is not None:
        headers.setdefault("Content-Type", "application/json")
        return jsonlib.dumps(json).encode("utf-8")
    if isinstance(data, Mapping):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urlencode(data, doseq=True).encode("ascii")
    if isinstance(data, str):
        return data.encode("utf-8")
    return data


def _same_origin(location: str, port: int) -> str | None:
    """The path to follow for a redirect to ``location``, or None when it leaves 127.0.0.1:port."""
    parts = urlsplit(location)
    if parts.scheme not in ("", "http") or parts.netloc not in (
        "",
        f"{LOOPBACK}:{port}",
        f"localhost:{port}",
    ):
        return None
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return path + (f"?{parts.query}" if parts.query else "")


def request(
    method: str,
    port: int,
    path: str = "/",
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    data: bytes | str | Mapping[str, Any] | None = None,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
    allow_redirects: bool = True,
    read_body: bool = True,
    max_body: int = MAX_BODY,
) -> HttpResponse:
    """One request to 127.0.0.1:``port``, finished (redirects included) within ``timeout`` seconds.

    Redirects are followed only to the same address and port. Raises :class:`HttpFailure`.
    """
    deadline = time.monotonic() + timeout
    sent = {
        "Accept": "*/*",
        "Accept-Encoding": "identity",
        "User-Agent": "grader",
        "Connection": "close",
        **(headers or {}),
    }
    body = _encode(data, json, sent)
    if params:
        path += ("&" if "?" in path else "?") + urlencode(params, doseq=True)
    for _hop in range(MAX_REDIRECTS + 1):
        response = _exchange(method, port, path, body, sent, deadline, read_body, max_body)
        location = response.headers.get("Location", "")
        target = _same_origin(location, port) if location else None
        if not allow_redirects or response.status not in _REDIRECTS or target is None:
            return response
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", None
            sent.pop("Content-Type", None)
        path = target
    return response


def answers(port: int, path: str = "/", timeout: float = 2.0) -> bool:
    """Whether anything answers HTTP on 127.0.0.1:``port`` within ``timeout`` (any status counts)."""
    try:
        request("GET", port, path, timeout=timeout, allow_redirects=False, read_body=False)
    except HttpFailure:
        return False
    return True

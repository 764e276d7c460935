"""A fault-injecting HTTP proxy for tests: 127.0.0.1 only, bounded in time and in requests, stops by itself.

It forwards every request to an upstream OpenAI-compatible server on the loopback (normally :mod:`llm.backends.serve`
around a tiny GPT-2) and, where its ``policy`` says so, answers with a fault instead:

* ``drop``: closes the connection without an answer;
* ``reset``: aborts the connection (TCP RST);
* ``http5xx``: HTTP 503 with an OpenAI error body;
* ``malformed``: HTTP 200 with truncated JSON;
* ``empty-choices``: HTTP 200 ``{"choices": []}``;
* ``mismatched-logprobs``: the upstream answer with its echo logprobs broken, alternately truncated (the last two
  tokens gone from every list) and misaligned (one ``token_logprobs`` entry fewer than ``text_offset``); only for
  requests that ask for logprobs;
* ``slow``: waits ``slow_s`` seconds (longer than the client's timeout) before forwarding.

Requests past ``max_requests``, and every request after ``lifetime_s`` seconds (the proxy shuts itself down), are
dropped or refused, so a test that goes wrong ends instead of hanging.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import httpx

HOST = "127.0.0.1"
KINDS = ("drop", "reset", "http5xx", "malformed", "empty-choices", "mismatched-logprobs", "slow")

Policy = Callable[[int, str, dict[str, Any]], "str | None"]  # (request index, path, body) -> fault kind or None


def wants_logprobs(body: dict[str, Any]) -> bool:
    """Whether a request asks for token logprobs (only those can get ``mismatched-logprobs``)."""
    return body.get("logprobs") is not None


class Periodic:
    """Faults every ``period``-th request (indices ``offset, offset + period, ...``), cycling through ``kinds``.

    Requests that ask for logprobs and those that do not keep separate cycles, so each kind that applies to a
    request type is used in turn (``mismatched-logprobs`` only on logprob requests).
    """

    def __init__(self, period: int, kinds: tuple[str, ...] = KINDS, offset: int = 3) -> None:
        self.period, self.kinds, self.offset = period, kinds, offset
        self.turn = {True: 0, False: 0}
        self.lock = threading.Lock()

    def __call__(self, index: int, path: str, body: dict[str, Any]) -> str | None:
        if index % self.period != self.offset % self.period:
            return None
        scoring = wants_logprobs(body)
        usable = [k for k in self.kinds if scoring or k != "mismatched-logprobs"]
        with self.lock:
            kind = usable[self.turn[scoring] % len(usable)]
            self.turn[scoring] += 1
        return kind


class RandomFaults:
    """Faults each request with probability ``rate`` (a seeded ``random.Random``), of a kind drawn uniformly among
    those that apply to it."""

    def __init__(self, rate: float, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> None:
        self.rate, self.kinds = rate, kinds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def __call__(self, index: int, path: str, body: dict[str, Any]) -> str | None:
        usable = [k for k in self.kinds if wants_logprobs(body) or k != "mismatched-logprobs"]
        with self.lock:
            return self.rng.choice(usable) if self.rng.random() < self.rate else None


def always(kind: str) -> Policy:
    """Every request gets fault ``kind`` (a persistent fault)."""
    return lambda index, path, body: kind


def when(predicate: Callable[[dict[str, Any]], bool], kind: str) -> Policy:
    """Requests whose body satisfies ``predicate`` get fault ``kind``, every time (prompt-specific faults)."""
    return lambda index, path, body: kind if predicate(body) else None


class FaultProxy(ThreadingHTTPServer):
    """The proxy server; ``url`` is the base URL clients use (``http://127.0.0.1:PORT/v1``).

    Attributes:
        requests: requests received so far.
        injected: ``(request index, kind)`` for every fault injected, in order.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, upstream: str, policy: Policy, slow_s: float = 1.0, max_requests: int = 2000,
                 lifetime_s: float = 60.0) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
            raise ValueError(f"the fault proxy forwards to the loopback only, got {upstream!r}")
        super().__init__((HOST, 0), _Handler)
        self.upstream = f"http://127.0.0.1:{parts.port}"
        self.policy, self.slow_s, self.max_requests = policy, slow_s, max_requests
        self.requests = 0
        self.injected: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.http = httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=256))
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/v1"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stops serving (idempotent; also called by the lifetime timer)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._timer.cancel()
        if threading.current_thread() is not self._thread:
            self.shutdown()
        self.server_close()
        self.http.close()

    def next_fault(self, path: str, body: dict[str, Any]) -> tuple[int, str | None]:
        with self.lock:
            index = self.requests
            self.requests += 1
        if index >= self.max_requests or self.stopping.is_set():
            kind: str | None = "drop"
        else:
            kind = self.policy(index, path, body)
            if kind == "mismatched-logprobs" and not wants_logprobs(body):
                kind = None
        if kind is not None:
            with self.lock:
                self.injected.append((index, kind))
        return index, kind


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (it timed out)
            self.close_connection = True

    def _forward(self, method: str, raw: bytes) -> tuple[int, bytes]:
        r = self.server.http.request(method, self.server.upstream + self.path, content=raw or None,
                                     headers={"Content-Type": "application/json"})
        return r.status_code, r.content

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        index, kind = self.server.next_fault(self.path, body if isinstance(body, dict) else {})
        if kind == "drop":
            self.close_connection = True
            return
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # closed at once with linger 0: the peer gets RST, not FIN
            self.close_connection = True
            return
        if kind == "http5xx":
            self._reply(503, json.dumps({"error": {"message": "injected: overloaded", "code": 503}}).encode())
            return
        if kind == "malformed":
            self._reply(200, b'{"id": "cmpl-x", "choices": [{"text": "trunc')
            return
        if kind == "empty-choices":
            self._reply(200, json.dumps({"id": "cmpl-x", "choices": [], "usage": {}}).encode())
            return
        if kind == "slow" and self.server.stopping.wait(self.server.slow_s):
            self.close_connection = True
            return
        try:
            status, data = self._forward(method, raw)
        except (httpx.HTTPError, RuntimeError):  # upstream gone, or the proxy closed its client while stopping
            self.close_connection = True
            return
        if kind == "mismatched-logprobs":
            data = _break_logprobs(data, truncate=index % 2 == 0)
        self._reply(status, data)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        self._handle("POST")


def _break_logprobs(data: bytes, truncate: bool) -> bytes:
    """The answer with ``choices[0].logprobs`` truncated (last two tokens gone) or misaligned (one value short)."""
    answer = json.loads(data)
    info = answer["choices"][0]["logprobs"]
    if truncate:
        for key in ("tokens", "token_logprobs", "text_offset"):
            info[key] = info[key][:-2]
    else:
        info["token_logprobs"] = info["token_logprobs"][:-1]
    return json.dumps(answer).encode()


@contextmanager
def fault_proxy(upstream: str, policy: Policy, **kwargs: Any) -> Iterator[FaultProxy]:
    """A started :class:`FaultProxy` in front of ``upstream``; stopped on exit (or after ``lifetime_s``)."""
    proxy = FaultProxy(upstream, policy, **kwargs).start()
    try:
        yield proxy
    finally:
        proxy.stop()

"""A small OpenAI-compatible server around any :class:`llm.lm.LanguageModel`, bound to 127.0.0.1 only.

Run it::

    python -m llm.backends.serve smollm2-135m --port 8000      # then: load_model("http://127.0.0.1:8000/v1")

Endpoints: ``GET /v1/models``; ``POST /v1/completions`` (``prompt`` a str or list of str, ``max_tokens``
(default 16; 0 allowed with ``echo``), ``temperature`` (default 1), ``seed``, ``stop``, ``echo``, ``logprobs``);
``POST /v1/chat/completions`` (``messages``, same sampling fields). Token logprobs need a white-box model
(:class:`llm.lm.WhiteBoxModel`, such as :class:`llm.backends.hf.HFModel`); otherwise such requests get HTTP 400.
Every connection gets its own thread (up to 128 waiting to be accepted), so a client keeping 64 requests in flight
has them all received at once; the model calls themselves run one at a time (a lock around the model), so
concurrent clients queue rather than oversubscribe the CPU. ``ModelServer.in_flight`` / ``peak_in_flight`` count the
requests being handled now / at most so far.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Sequence

from llm.lm import Generation, LanguageModel, LMError, white_box

HOST = "127.0.0.1"
MAX_BODY = 16 << 20  # bytes


class RequestError(ValueError):
    """A client error: answered as HTTP 400 with an OpenAI-style error body."""


def _field(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """``body[key]`` checked against ``kind`` (a JSON ``true`` is not an int here); ``default`` if absent/null."""
    value = body.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise RequestError(f"'{key}' has the wrong type {type(value).__name__}")
    return value


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    """``generate`` keyword arguments from an OpenAI request body."""
    if _field(body, "n", int, 1) != 1:
        raise RequestError("only n=1 is supported")
    stop = _field(body, "stop", (str, list), [])
    stop = [stop] if isinstance(stop, str) else stop
    if not all(isinstance(s, str) for s in stop):
        raise RequestError("'stop' must be a string or a list of strings")
    return {
        "max_new_tokens": _field(body, "max_tokens", int, 16),
        "temperature": float(_field(body, "temperature", (int, float), 1.0)),
        "seed": _field(body, "seed", int, 0),
        "stop": [s for s in stop if s],
    }


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


class ModelServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` holding the model, its public name and a lock serialising model calls."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog: 64+ clients connecting at once are not refused or delayed

    def __init__(self, model: LanguageModel, port: int = 0, name: str | None = None, verbose: bool = False) -> None:
        super().__init__((HOST, port), _Handler)
        self.model = model
        self.model_name = name or model.name
        self.verbose = verbose
        self.lock = threading.Lock()
        self.in_flight = 0  # requests being handled now
        self.peak_in_flight = 0  # the most handled at once so far
        self._count_lock = threading.Lock()

    def count(self, delta: int) -> None:
        """Adds ``delta`` (+1 on receipt, -1 when answered) to ``in_flight`` and updates ``peak_in_flight``."""
        with self._count_lock:
            self.in_flight += delta
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    @property
    def url(self) -> str:
        """The base URL clients use, ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.server_address[1]}/v1"

    # ---- endpoint logic (pure over the request body) -------------------------------------------------------

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        """``/v1/completions``: generation, optionally with ``echo`` and per-token ``logprobs``."""
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise RequestError("'prompt' must be a string or a non-empty list of strings")
        kwargs = _sampling(body)
        echo = bool(_field(body, "echo", bool, False))
        want_logprobs = _field(body, "logprobs", int, None) is not None
        if want_logprobs and not self.model.capabilities.white_box:
            raise RequestError(f"model {self.model_name!r} does not offer token logprobs")
        if kwargs["max_new_tokens"] == 0 and not echo:
            raise RequestError("max_tokens=0 is only allowed with echo=true")
        with self.lock:
            if kwargs["max_new_tokens"] > 0:
                gens = self.model.generate(prompts, **kwargs)
            else:
                gens = [Generation("", 0, 0, "length") for _ in prompts]
            choices = []
            for i, (p, g) in enumerate(zip(prompts, gens)):
                logprobs = None
                if want_logprobs:
                    tokens, offsets, values = self._token_scores(p, g.text, echo)
                    logprobs = {"tokens": tokens, "token_logprobs": values, "text_offset": offsets,
                                "top_logprobs": None}
                choices.append({"index": i, "text": (p if echo else "") + g.text, "logprobs": logprobs,
                                "finish_reason": g.finish_reason})
        return {
            "id": f"cmpl-{uuid.uuid4().hex[:12]}", "object": "text_completion", "created": int(time.time()),
            "model": self.model_name, "choices": choices,
            "usage": _usage(sum(g.prompt_tokens for g in gens), sum(g.new_tokens for g in gens)),
        }

    def _token_scores(self, prompt: str, generated: str, echo: bool) -> tuple[list[str], list[int], list[Any]]:
        """Per-token ``(tokens, text_offset, token_logprobs)`` for a completions answer.

        With ``echo`` the prompt's own tokenization comes first (exactly what ``logprob`` clients sum over),
        followed by the generated tokens that start at or after ``len(prompt)``; without it, the tokens of
        ``prompt + generated`` that end after ``len(prompt)``. Generated tokens are re-tokenized from text.
        """
        score = white_box(self.model).token_logprobs
        tokens, offsets, values = score(prompt) if echo else ([], [], [])
        if generated:
            t2, o2, v2 = score(prompt + generated)
            ends = o2[1:] + [len(prompt + generated)]
            keep = [j for j in range(len(t2)) if (o2[j] >= len(prompt) if echo else ends[j] > len(prompt))]
            tokens, offsets, values = tokens + [t2[j] for j in keep], offsets + [o2[j] for j in keep], values + [
                v2[j] for j in keep]
        return tokens, offsets, values

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """``/v1/chat/completions``: one assistant message."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("'messages' must be a non-empty list")
        kwargs = _sampling(body)
        if kwargs["max_new_tokens"] < 1:
            raise RequestError("'max_tokens' must be >= 1")
        with self.lock:
            (g,) = self.model.generate([messages], **kwargs)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": g.text}, "logprobs": None,
                         "finish_reason": g.finish_reason}],
            "usage": _usage(g.prompt_tokens, g.new_tokens),
        }

    def models(self) -> dict[str, Any]:
        """``/v1/models``: the one model served."""
        return {"object": "list", "data": [{"id": self.model_name, "object": "model", "created": 0,
                                            "owned_by": "persuasion-alignment"}]}


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    server_version = "persuasion-llm-serve/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str) -> None:
        self._send(*_error_body(status, message, kind))

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, self.server.models())
        else:
            self._error(404, f"no route GET {self.path}", "not_found")

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        self.server.count(+1)
        try:
            status, payload = self._answer()
        finally:
            self.server.count(-1)  # before the answer leaves: the client may send its next request at once
        self._send(status, payload)

    def _answer(self) -> tuple[int, dict[str, Any]]:
        """``(HTTP status, JSON body)`` for this POST."""
        routes = {"/v1/completions": self.server.completions, "/v1/chat/completions": self.server.chat}
        route = routes.get(self.path.rstrip("/"))
        if route is None:
            return _error_body(404, f"no route POST {self.path}", "not_found")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 < length <= MAX_BODY:
                raise RequestError(f"request body must be 1..{MAX_BODY} bytes of JSON, got {length}")
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise RequestError("request body must be a JSON object")
            return 200, route(body)
        except (RequestError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            return _error_body(400, str(exc).splitlines()[0] if str(exc) else "bad request", "invalid_request_error")
        except LMError as exc:
            return _error_body(400, str(exc), "invalid_request_error")
        except Exception as exc:  # the model crashed: report, keep serving
            return _error_body(500, f"{type(exc).__name__}: {str(exc)[:200]}", "server_error")


def _error_body(status: int, message: str, kind: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "code": status}}

def make_server(model: LanguageModel, port: int = 0, name: str | None = None, verbose: bool = False) -> ModelServer:
    """A server for ``model`` on ``127.0.0.1:port`` (``0``: a free port); call ``serve_forever()`` on it."""
    return ModelServer(model, port=port, name=name, verbose=verbose)


@contextmanager
def serving(model: LanguageModel, port: int = 0, name: str | None = None) -> Iterator[str]:
    """Serves ``model`` in a background thread; yields the base URL and shuts down on exit."""
    server = make_server(model, port=port, name=name)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m llm.backends.serve MODEL [--port 8000] [--batch-size 8] [--device cpu] [--name NAME] [--verbose]``."""
    from llm.backends import load_model

    parser = argparse.ArgumentParser(prog="python -m llm.backends.serve", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="short name, local folder or hub id (see docs/models.md)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: automatic)")
    parser.add_argument("--name", default=None, help="model name reported by /v1/models (default: MODEL)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model, batch_size=args.batch_size, device=args.device)
        server = make_server(model, port=args.port, name=args.name, verbose=args.verbose)
    except (LMError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"serving {server.model_name!r} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

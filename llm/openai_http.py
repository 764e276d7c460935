"""OpenAI-compatible HTTP backend (vLLM, llama.cpp server, hosted APIs, :mod:`llm.serve`).

``str`` prompts go to ``/completions``, chats to ``/chat/completions``; one request per prompt, at most
``concurrency`` in flight. Connect errors, HTTP 5xx and 429 are retried ``max_retries`` times with exponential
back-off ``backoff * 2**attempt`` seconds (a numeric ``Retry-After`` wins, capped at ``max_backoff``); anything
else (timeouts included) fails at once with a one-line :class:`llm.lm.LMError`.

``logprob`` uses the vLLM convention: ``/completions`` with ``prompt = p + c``, ``echo=True``, ``logprobs=1``,
``max_tokens=1``; the server returns each prompt token's ``token_logprobs`` and ``text_offset``, and the tokens
ending after character ``len(p)`` (and starting before ``len(p + c)``) are summed. A token straddling the
boundary counts to the continuation, as in :mod:`llm.hf`. Chat prompts cannot be scored this way.
"""

from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import urlsplit

import httpx
import numpy as np

from llm.lm import Capabilities, Generation, LMError, Message, Prompt
from llm.load import check_continuations, check_prompts, check_sampling, row_seed

T = TypeVar("T")


def retryable(status: int) -> bool:
    """HTTP statuses worth another attempt: 429 (rate limited) and every 5xx."""
    return status == 429 or 500 <= status < 600


def normalise_base_url(base_url: str) -> str:
    """``http://host:port`` -> ``http://host:port/v1``; a URL with a path is kept (trailing ``/`` dropped)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise LMError(f"base_url must be an http(s) URL, got {base_url!r}")
    url = base_url.strip().rstrip("/")
    return url if parts.path.strip("/") else url + "/v1"


def _snippet(text: str, n: int = 120) -> str:
    return repr(text[:n] + ("..." if len(text) > n else ""))


def _error_message(response: httpx.Response) -> str:
    """The server's own error text (OpenAI ``{"error": {"message": ...}}`` or the raw body), one line."""
    try:
        body = response.json()
        err = body.get("error") if isinstance(body, dict) else None
        msg = err.get("message") if isinstance(err, dict) else (err or body)
        return " ".join(str(msg).split())[:200]
    except ValueError:
        return _snippet(" ".join(response.text.split()))


class OpenAIModel:
    """A model behind an OpenAI-compatible endpoint, as a :class:`llm.lm.LanguageModel`.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a bare ``host:port``).
        model: the served model's name; ``None`` asks ``/models`` (there must be exactly one).
        api_key_env: environment variable holding the API key (sent as ``Authorization: Bearer``); unset or
            ``None``: no header (local servers).
        timeout: seconds for connecting, and for each read, of one request.
        max_retries: extra attempts after a connect error, 5xx or 429.
        concurrency: most requests in flight at once.
        backoff: first retry delay in seconds (doubles each attempt).
        max_backoff: cap on one delay, seconds.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise LMError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise LMError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise LMError(f"concurrency must be an int >= 1, got {concurrency!r}")
        self.base_url = normalise_base_url(base_url)
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.name = model if model else self._discover_model()
        self.capabilities = Capabilities(chat_template=True, token_logprobs=True, white_box=False)

    def close(self) -> None:
        """Closes the connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAIModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport ------------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.backoff * 2.0**attempt
        if response is not None:
            try:
                delay = float(response.headers.get("retry-after", ""))
            except ValueError:
                pass
        return min(max(delay, 0.0), self.max_backoff)

    def request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends one request with retries; returns the JSON object answered.

        Raises:
            LMError: unreachable after all attempts, timeout, HTTP error, a non-JSON or non-object body.
        """
        url = self.base_url + path
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            response = None
            try:
                response = self._client.request(method, url, json=payload, headers=self._headers())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt + 1 < attempts:
                    time.sleep(self._delay(attempt, None))
                    continue
                why = "timed out" if isinstance(exc, httpx.ConnectTimeout) else "refused or failed"
                raise LMError(f"cannot reach {url}: connection {why} after {attempts} attempts") from None
            except httpx.TimeoutException:
                raise LMError(f"{url} did not answer within {self.timeout:g} s (timeout)") from None
            except httpx.HTTPError as exc:  # RemoteProtocolError, ReadError: not an HTTP answer
                detail = " ".join(str(exc).split())
                raise LMError(f"{url} sent no valid HTTP answer: {type(exc).__name__}: {detail}") from None
            status = response.status_code
            if retryable(status) and attempt + 1 < attempts:
                time.sleep(self._delay(attempt, response))
                continue
            if status >= 400:
                hint = f" (is ${self.api_key_env} set?)" if status in (401, 403) and self.api_key_env else ""
                tries = f" after {attempts} attempts" if retryable(status) else ""
                raise LMError(f"{url} answered HTTP {status}{tries}: {_error_message(response)}{hint}")
            try:
                data = response.json()
            except (ValueError, UnicodeDecodeError):
                raise LMError(f"{url} answered non-JSON (HTTP {status}): {_snippet(response.text)}") from None
            if not isinstance(data, dict):
                raise LMError(f"{url} answered JSON that is not an object: {_snippet(json.dumps(data))}")
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _map(self, fn: Callable[[int], T], n: int) -> list[T]:
        """``[fn(0), ..., fn(n-1)]`` with at most ``concurrency`` calls running at once, in order."""
        if n <= 1 or self.concurrency == 1:
            return [fn(i) for i in range(n)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, n)) as pool:
            return list(pool.map(fn, range(n)))

    def _discover_model(self) -> str:
        data = self.request("GET", "/models")
        try:
            ids = [str(m["id"]) for m in data["data"]]
        except (KeyError, TypeError):
            raise LMError(f"{self.base_url}/models answered malformed JSON: {_snippet(json.dumps(data))}") from None
        if len(ids) != 1:
            raise LMError(f"{self.base_url} serves {len(ids)} models {ids}; name one (URL#MODEL)")
        return ids[0]

    # ---- LanguageModel ------------------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        """One request per prompt (prompt ``i`` sent with seed ``seed + i``), results in prompt order."""
        chats = check_prompts(prompts)
        stops = check_sampling(max_new_tokens, temperature, seed, stop)

        def one(i: int) -> Generation:
            return self._generate_one(chats[i], max_new_tokens, temperature, row_seed(seed, i), stops)

        return self._map(one, len(chats))

    def _generate_one(
        self, prompt: str | list[Message], max_new_tokens: int, temperature: float, seed: int, stops: tuple[str, ...]
    ) -> Generation:
        chat = not isinstance(prompt, str)
        payload: dict[str, Any] = {
            "model": self.name, "max_tokens": max_new_tokens, "temperature": float(temperature), "seed": seed,
        }
        payload["messages" if chat else "prompt"] = prompt
        if stops:
            payload["stop"] = list(stops)
        path = "/chat/completions" if chat else "/completions"
        data = self.request("POST", path, payload)
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
            text = "" if text is None else text
            if not isinstance(text, str):
                raise TypeError("text is not a string")
            usage = data.get("usage") or {}
            reason = "length" if choice.get("finish_reason") == "length" else "stop"
            return Generation(
                text=text, prompt_tokens=int(usage.get("prompt_tokens", 0)),
                new_tokens=int(usage.get("completion_tokens", 0)), finish_reason=reason,
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            field = "choices[0].message.content" if chat else "choices[0].text"
            raise LMError(
                f"{self.base_url}{path} answered JSON without a usable {field}: {_snippet(json.dumps(data))}"
            ) from None

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """Sums echoed prompt-token logprobs over each continuation (see the module docstring), float64 ``(N,)``.

        Raises:
            LMError: a chat prompt, or a server that does not offer echo logprobs.
        """
        chats = check_prompts(prompts)
        conts = check_continuations(chats, continuations)
        for i, p in enumerate(chats):
            if not isinstance(p, str):
                raise LMError(f"prompt {i} is a chat: the HTTP backend can score only str prompts (echo=True)")

        def one(i: int) -> float:
            return self._logprob_one(str(chats[i]), conts[i]) if conts[i] else 0.0

        return np.asarray(self._map(one, len(chats)), dtype=np.float64)

    def _logprob_one(self, prompt: str, continuation: str) -> float:
        full = prompt + continuation
        payload = {
            "model": self.name, "prompt": full, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1,
        }
        url = f"{self.base_url}/completions"
        data = self.request("POST", "/completions", payload)
        try:
            info = data["choices"][0].get("logprobs")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LMError(f"{url} answered JSON without choices[0]: {_snippet(json.dumps(data))}") from None
        if not isinstance(info, dict) or not info.get("token_logprobs"):
            raise LMError(f"{url} does not offer echo logprobs (needed by logprob): answer had logprobs={info!r:.80}")
        try:
            offsets = [int(o) for o in info["text_offset"]]
            values = list(info["token_logprobs"])
            if len(offsets) != len(values):
                raise ValueError("length mismatch")
        except (KeyError, TypeError, ValueError):
            raise LMError(f"{url} answered malformed logprobs (text_offset/token_logprobs): {info!r:.120}") from None
        ends = offsets[1:] + [len(full)]
        total, found = 0.0, False
        for start, end, value in zip(offsets, ends, values):
            if end > len(prompt) and start < len(full):
                if value is None:
                    raise LMError(f"{url} gave no logprob for the first token; use a non-empty prompt")
                try:
                    total += float(value)
                except (TypeError, ValueError):
                    raise LMError(f"{url} answered a non-numeric token logprob {value!r:.40}") from None
                found = True
        if not found:
            raise LMError(f"{url} echoed no token for the continuation {continuation!r:.60}")
        return total

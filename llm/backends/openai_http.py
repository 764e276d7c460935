"""OpenAI-compatible HTTP backend (vLLM, llama.cpp server, hosted APIs, :mod:`llm.backends.serve`).

``str`` prompts go to ``/completions``, chats to ``/chat/completions``; one request per prompt, at most
``max_in_flight`` in flight at once (a thread pool over one pooled ``httpx.Client``), results in prompt order.

**Retries.** A request is attempted at most ``max_retries + 1`` times. Retried: transport faults on a connection
that was made (dropped or reset, no valid HTTP answer), timeouts (no answer within ``timeout`` seconds), HTTP 5xx and
429, and malformed answers (not JSON, not an object, no or empty ``choices``, a missing text, ``logprobs`` whose
lists disagree in length, do not echo the prompt or stop short of the continuation). Before attempt ``a + 1`` the
client waits ``d * U(1/2, 1)`` seconds with ``d = min(backoff * 2**a, max_backoff)`` (exponential back-off with
jitter, so clients that failed together do not retry together); a numeric ``Retry-After`` header replaces the
delay (capped at ``max_backoff``). What waiting does not mend fails at once: no connection at all (refused: no
server listens there; or a host name that does not resolve), other HTTP 4xx (404: no such model or path), and
answers that show the server lacks a feature (no echo logprobs). A request that fails for good gives one line:
what (request kind), where (URL), after how many attempts, and the last fault.

**Batches.** Every prompt of a batch is its own request, so a fault costs at most that prompt: when some prompts
fail for good, ``generate`` and ``logprob`` wait for every request in flight and raise
:class:`llm.lm.PartialResults` holding the completed results (``None`` where a prompt failed). After an
endpoint-wide fault (transport, timeout, 5xx/429 still failing after all retries) requests not yet sent are not
sent (they are ``None`` too, "not sent"), so a dead server ends a batch after one request's retries, not after
every prompt's; prompt-specific faults (other 4xx, a malformed answer to one prompt) let the rest of the batch run.

**Suspect answers.** A well-formed answer that is still wrong is kept but flagged in :attr:`llm.lm.Generation.flag`:
``"empty"`` (no text) or ``"finish_reason=X"`` (ended for a reason other than stop or length).

``logprob`` uses the vLLM convention: ``/completions`` with ``prompt = p + c``, ``echo=True``, ``logprobs=1``,
``max_tokens=1``; the server returns each prompt token's ``token_logprobs`` and ``text_offset``, and the tokens
ending after character ``len(p)`` (and starting before ``len(p + c)``) are summed. A token straddling the
boundary counts to the continuation, as in :mod:`llm.backends.hf`. Chat prompts cannot be scored this way.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import urlsplit

import httpx
import numpy as np

from llm.backends.registry import LoadOptions
from llm.lm import (Capabilities, Generation, LMError, Message, PartialResults, Prompt, check_continuations,
                    check_prompts, check_sampling, row_seed)

T = TypeVar("T")


def retryable(status: int) -> bool:
    """HTTP statuses worth another attempt: 429 (rate limited) and every 5xx."""
    return status == 429 or 500 <= status < 600


def connect_fault(exc: BaseException) -> str:
    """Why a connection could not be made, in a few words: refused, a host that does not resolve, or the OS's text."""
    text = _one_line(str(exc))
    low = text.lower()
    if "refused" in low:
        return "connection refused: is the server running and the port right?"
    if any(s in low for s in ("name or service not known", "name resolution", "nodename nor servname", "getaddrinfo",
                              "no address associated")):
        return "the host name does not resolve"
    return text[:120] or type(exc).__name__


def normalise_base_url(base_url: str) -> str:
    """``http://host:port`` -> ``http://host:port/v1``; a URL with a path is kept (trailing ``/`` dropped)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise LMError(f"base_url must be an http(s) URL, got {base_url!r}")
    url = base_url.strip().rstrip("/")
    return url if parts.path.strip("/") else url + "/v1"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _snippet(text: str, n: int = 120) -> str:
    return repr(text[:n] + ("..." if len(text) > n else ""))


def _error_message(response: httpx.Response) -> str:
    """The server's own error text (OpenAI ``{"error": {"message": ...}}`` or the raw body), one line."""
    try:
        body = response.json()
        err = body.get("error") if isinstance(body, dict) else None
        msg = err.get("message") if isinstance(err, dict) else (err or body)
        return _one_line(str(msg))[:200]
    except ValueError:
        return _snippet(_one_line(response.text))


class Malformed(ValueError):
    """An answer that is HTTP 200 JSON but unusable (no choices, missing text, mismatched logprobs): retried."""


class RequestFailed(LMError):
    """One request failed for good (one line). ``endpoint``: the fault concerns the server, not this prompt."""

    def __init__(self, message: str, endpoint: bool) -> None:
        super().__init__(_one_line(message))
        self.endpoint = endpoint


class OpenAIModel:
    """A model behind an OpenAI-compatible endpoint, as a :class:`llm.lm.LanguageModel`.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added to a bare ``host:port``).
        model: the served model's name; ``None`` asks ``/models`` (there must be exactly one).
        api_key_env: environment variable holding the API key (sent as ``Authorization: Bearer``); unset or
            ``None``: no header (local servers).
        timeout: seconds for connecting, and for each read, of one attempt; a slower reply is retried.
        max_retries: extra attempts after a retryable fault (see the module docstring); 0: one attempt.
        max_in_flight: most requests in flight at once (vLLM batches them server-side; 64 keeps it busy).
        backoff: first retry delay in seconds, before jitter (doubles each attempt).
        max_backoff: cap on one delay, seconds.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
        max_in_flight: int = 64,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if isinstance(timeout, bool) or not (
            isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0
        ):
            raise LMError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise LMError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise LMError(f"max_in_flight must be an int >= 1, got {max_in_flight!r}")
        for label, value in (("backoff", backoff), ("max_backoff", max_backoff)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise LMError(f"{label} must be a number of seconds >= 0, got {value!r}")
        self.base_url = normalise_base_url(base_url)
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight),
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
        """Seconds to wait after failed attempt ``attempt`` (0-based): ``min(backoff 2^a, max) * U(1/2, 1)``,
        or the answer's numeric ``Retry-After`` (capped)."""
        if response is not None:
            try:
                return min(max(float(response.headers.get("retry-after", "")), 0.0), self.max_backoff)
            except ValueError:
                pass
        cap = min(self.backoff * 2.0**attempt, self.max_backoff)
        return cap * random.uniform(0.5, 1.0)

    def request(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        parse: Callable[[dict[str, Any]], T] | None = None,
        kind: str = "request",
    ) -> T | dict[str, Any]:
        """Sends one request, retrying faults (see the module docstring); returns ``parse(answer)``.

        ``parse`` turns the answered JSON object into the result; it raises :class:`Malformed` for an answer
        worth another attempt, :class:`llm.lm.LMError` for one that is not.

        Raises:
            RequestFailed: one line naming ``kind``, the URL, the attempts made and the last fault.
        """
        url = self.base_url + path
        attempts = self.max_retries + 1
        where = f"{kind} request to {url}"
        fault, endpoint = "", True
        for attempt in range(attempts):
            response = None
            try:
                response = self._client.request(method, url, json=payload, headers=self._headers())
            except httpx.TimeoutException:
                fault, endpoint = f"no answer within {self.timeout:g} s (timeout)", True
            except httpx.ConnectError as exc:  # nobody listens there, or no such host: waiting will not help
                why = connect_fault(exc)
                raise RequestFailed(f"{where} failed: cannot connect ({why}; not retried)", True) from None
            except httpx.TransportError as exc:  # dropped, reset, not HTTP at all
                fault, endpoint = f"no valid HTTP answer ({type(exc).__name__}: {_one_line(str(exc))[:120]})", True
            else:
                status = response.status_code
                if retryable(status):
                    fault, endpoint = f"HTTP {status}: {_error_message(response)}", True
                elif status >= 400:
                    hint = f" (is ${self.api_key_env} set?)" if status in (401, 403) and self.api_key_env else ""
                    raise RequestFailed(f"{where} failed: HTTP {status}: {_error_message(response)}{hint}", False)
                else:
                    try:
                        data = response.json()
                        if not isinstance(data, dict):
                            raise Malformed(f"answered JSON that is not an object: {_snippet(json.dumps(data))}")
                        return parse(data) if parse is not None else data
                    except (ValueError, UnicodeDecodeError) as exc:  # Malformed and JSONDecodeError both
                        text = str(exc) if isinstance(exc, Malformed) else (
                            f"answered non-JSON (HTTP {status}): {_snippet(response.text)}")
                        fault, endpoint = text, False
                    except LMError as exc:  # a well-formed refusal (a feature the server lacks): not retried
                        raise RequestFailed(f"{where} failed: {exc}", False) from None
            if attempt + 1 < attempts:
                time.sleep(self._delay(attempt, response))
        times = "attempt" if attempts == 1 else "attempts"
        raise RequestFailed(f"{where} failed after {attempts} {times}: {fault}", endpoint)

    def _map(self, fn: Callable[[int], T], n: int, what: str) -> list[T]:
        """``[fn(0), ..., fn(n-1)]`` with at most ``max_in_flight`` calls running at once, in order.

        Raises:
            PartialResults: some calls failed for good (after every started call has finished).
        """
        results: list[Any] = [None] * n
        errors: dict[int, str] = {}
        first: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()  # set by an endpoint-wide fault: calls not yet started are not made

        def task(i: int) -> None:
            if stop.is_set():
                with lock:
                    errors[i] = f"not sent: stopped after an endpoint fault ({first[0]})"
                return
            try:
                results[i] = fn(i)
            except LMError as exc:
                with lock:
                    errors[i] = str(exc)
                    if not first:
                        first.append(str(exc))
                if isinstance(exc, RequestFailed) and exc.endpoint:
                    stop.set()

        if n <= 1 or self.max_in_flight == 1:
            for i in range(n):
                task(i)
        else:
            with ThreadPoolExecutor(max_workers=min(self.max_in_flight, n)) as pool:
                list(pool.map(task, range(n)))
        if errors:
            message = first[0] if n == 1 else (
                f"{len(errors)} of {n} {what} prompts failed ({n - len(errors)} completed); first: {first[0]}")
            raise PartialResults(message, results, [f"prompt {i}: {errors[i]}" for i in sorted(errors)])
        return results

    def _discover_model(self) -> str:
        def ids(data: dict[str, Any]) -> list[str]:
            try:
                return [str(m["id"]) for m in data["data"]]
            except (KeyError, TypeError):
                raise Malformed(f"answered malformed JSON: {_snippet(json.dumps(data))}") from None

        found = self.request("GET", "/models", parse=ids, kind="models")
        if len(found) != 1:
            raise LMError(f"{self.base_url} serves {len(found)} models {found}; name one (URL#MODEL)")
        return found[0]

    # ---- LanguageModel ------------------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[Prompt],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        """One request per prompt (prompt ``i`` sent with seed ``seed + i``), results in prompt order.

        Raises:
            PartialResults: some prompts failed for good; ``results`` holds the completed generations.
        """
        chats = check_prompts(prompts)
        stops = check_sampling(max_new_tokens, temperature, seed, stop)

        def one(i: int) -> Generation:
            return self._generate_one(chats[i], max_new_tokens, temperature, row_seed(seed, i), stops)

        return self._map(one, len(chats), "generate")

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
        field = "choices[0].message.content" if chat else "choices[0].text"

        def parse(data: dict[str, Any]) -> Generation:
            choices = data.get("choices")
            if not isinstance(choices, list) or not choices:
                raise Malformed(f"answered no choices (choices={choices!r:.40})")
            try:
                choice = choices[0]
                text = choice["message"]["content"] if chat else choice["text"]
                text = "" if text is None else text
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
                usage = data.get("usage") or {}
                prompt_tokens, new_tokens = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
                finish = choice.get("finish_reason")
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                raise Malformed(f"answered JSON without a usable {field}: {_snippet(json.dumps(data))}") from None
            flag = "empty" if text == "" else None
            if flag is None and finish not in (None, "stop", "length", "eos"):
                flag = f"finish_reason={_one_line(str(finish))[:40]}"
            reason = "length" if finish == "length" else "stop"
            return Generation(text, prompt_tokens, new_tokens, reason, flag)

        path = "/chat/completions" if chat else "/completions"
        return self.request("POST", path, payload, parse, kind="chat" if chat else "generate")

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """Sums echoed prompt-token logprobs over each continuation (see the module docstring), float64 ``(N,)``.

        Raises:
            LMError: a chat prompt, or a server that does not offer echo logprobs.
            PartialResults: some prompts failed for good; ``results`` holds the completed floats.
        """
        chats = check_prompts(prompts)
        conts = check_continuations(chats, continuations)
        for i, p in enumerate(chats):
            if not isinstance(p, str):
                raise LMError(f"prompt {i} is a chat: the HTTP backend can score only str prompts (echo=True)")

        def one(i: int) -> float:
            return self._logprob_one(str(chats[i]), conts[i]) if conts[i] else 0.0

        return np.asarray(self._map(one, len(chats), "logprob"), dtype=np.float64)

    def _logprob_one(self, prompt: str, continuation: str) -> float:
        full = prompt + continuation
        payload = {
            "model": self.name, "prompt": full, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1,
        }
        return self.request("POST", "/completions", payload, lambda data: echo_sum(data, prompt, full), "logprob")


def echo_sum(data: dict[str, Any], prompt: str, full: str) -> float:
    """``sum log p(token)`` over the echoed tokens of ``full`` that end after ``len(prompt)``.

    Raises:
        Malformed: no choices, lists of different lengths, offsets out of order or past the text, an echo that
            is not ``full``, tokens that stop before the end of ``full`` (a truncated list) or none in the
            continuation: retried.
        LMError: no ``logprobs`` at all (the server does not offer them) or no score for a context-less first
            token: not retried.
    """
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise Malformed(f"answered no usable choices[0]: {_snippet(json.dumps(data))}")
    choice = choices[0]
    info = choice.get("logprobs")
    if info is None or (isinstance(info, dict) and "token_logprobs" not in info):
        raise LMError(f"does not offer echo logprobs (needed by logprob): answer had logprobs={info!r:.80}")
    try:
        offsets = [int(o) for o in info["text_offset"]]
        values = list(info["token_logprobs"])
        tokens = info.get("tokens")
        if tokens is not None:
            tokens = [str(t) for t in tokens]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Malformed(f"answered malformed logprobs (text_offset/token_logprobs): {info!r:.120}") from None
    lengths = {len(offsets), len(values)} | ({len(tokens)} if tokens is not None else set())
    if len(lengths) != 1 or not offsets:
        raise Malformed(f"answered mismatched logprobs: {len(values)} token_logprobs, {len(offsets)} text_offset"
                        + (f", {len(tokens)} tokens" if tokens is not None else ""))
    text = choice.get("text")
    if isinstance(text, str) and not text.startswith(full):
        raise Malformed(f"echoed {_snippet(text, 60)}, not the prompt sent {_snippet(full, 60)}")
    if any(b < a for a, b in zip(offsets, offsets[1:])) or offsets[0] < 0 or offsets[-1] > max(
            len(full), len(text) if isinstance(text, str) else 0):
        raise Malformed(f"answered logprobs with text offsets out of order or past the text: {offsets!r:.80}")
    if tokens is not None and max(o + len(t) for o, t in zip(offsets, tokens)) < len(full):
        covered = max(o + len(t) for o, t in zip(offsets, tokens))
        raise Malformed(f"answered logprobs for only the first {covered} of {len(full)} characters (missing tokens)")
    ends = offsets[1:] + [len(full)]
    total, found = 0.0, False
    for start, end, value in zip(offsets, ends, values):
        if end > len(prompt) and start < len(full):
            if value is None:
                raise LMError("gave no logprob for the first token; use a non-empty prompt")
            try:
                total += float(value)
            except (TypeError, ValueError):
                raise Malformed(f"answered a non-numeric token logprob {value!r:.40}") from None
            found = True
    if not found:
        raise Malformed(f"echoed no token for the continuation {full[len(prompt):]!r:.60}")
    return total


def load(spec: str, options: LoadOptions) -> OpenAIModel:
    """The registry's loader: ``URL[#MODEL]`` (without ``#MODEL`` the endpoint's ``/models`` is asked)."""
    url, _, model = spec.partition("#")
    return OpenAIModel(url, model or None, api_key_env=options.api_key_env, timeout=options.timeout,
                       max_retries=options.max_retries, max_in_flight=options.max_in_flight)

"""HTTP backend against servers on 127.0.0.1 started here: llm.backends.serve around a tiny GPT-2, and fakes that are
slow, unreachable, erroring or answering garbage."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Sequence

import httpx
import numpy as np
import pytest

from llm.backends import load_model
from llm.backends.hf import HFModel
from llm.backends.openai_http import OpenAIModel, normalise_base_url
from llm.backends.serve import main, make_server, serving
from llm.lm import Capabilities, Generation, LanguageModel, LMError, Prompt

PROMPTS = ["Hello, world!", "The capital of France is", "a", "Once upon a time, in a land far away"]
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
PAIRS = [
    ("Hello", ", world!"),
    ("Hello wor", "ld"),
    ("The answer is", ""),
    ("Q: What is 2+2?\nA:", " 4"),
    ("Once upon a time, in a land far away, there lived a very old", " king who loved his people."),
]


# ---- fake servers ---------------------------------------------------------------------------------------------


class Recorder:
    """What a fake server saw: request bodies and headers, and the most requests in flight at once."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()  # set at teardown: slow handlers stop waiting


Respond = Callable[[BaseHTTPRequestHandler, int, dict[str, Any], Recorder], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes | str | dict[str, Any],
         headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    done = getattr(handler, "leave", None)
    if done is not None:
        done()  # no longer in flight once the answer goes out: the client may send its next request at once
    try:
        handler.send_response(status)
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:  # the client gave up (timeout tests)
        pass


def completion(text: str, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "text": text, "finish_reason": "length", **extra}
    return {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}


@contextmanager
def fake_server(respond: Respond) -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            with rec.lock:
                index = len(rec.requests)
                rec.requests.append((self.path, body, dict(self.headers)))
                rec.in_flight += 1
                rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
            left = [False]

            def leave() -> None:  # counted out once, just before the answer is written (or when none is)
                with rec.lock:
                    if not left[0]:
                        left[0] = True
                        rec.in_flight -= 1

            self.leave = leave
            try:
                respond(self, index, body, rec)
            finally:
                leave()

        do_GET = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()


def client(url: str, **kwargs: Any) -> OpenAIModel:
    options = {"model": "m", "timeout": 5.0, "max_retries": 2, "backoff": 0.01, "api_key_env": None}
    options.update(kwargs)
    return OpenAIModel(url, **options)


# ---- against llm.backends.serve around the tiny GPT-2 -------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tiny_model: HFModel) -> Iterator[str]:
    with serving(tiny_model) as url:
        yield url


@pytest.fixture(scope="module")
def remote(served: str) -> Iterator[OpenAIModel]:
    with OpenAIModel(served, timeout=60.0, max_in_flight=3, api_key_env=None) as model:
        yield model


def test_discovers_served_model(remote: OpenAIModel, served: str) -> None:
    assert isinstance(remote, LanguageModel)
    assert remote.name == "tiny" and remote.base_url == served and served.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_generate_over_http_equals_local(remote: OpenAIModel, tiny_model: HFModel, temperature: float) -> None:
    prompts: list[Prompt] = [*PROMPTS, CHAT]
    got = remote.generate(prompts, max_new_tokens=6, temperature=temperature, seed=7)
    assert got == tiny_model.generate(prompts, max_new_tokens=6, temperature=temperature, seed=7)
    assert all(g.new_tokens == 6 and g.finish_reason == "length" for g in got)


def test_stop_strings_over_http(remote: OpenAIModel, tiny_model: HFModel) -> None:
    full = tiny_model.generate(PROMPTS, 10, temperature=1.0, seed=2)
    stops = [full[1].text[3:6] or "x", "\n"]
    got = remote.generate(PROMPTS, 10, temperature=1.0, seed=2, stop=stops)
    assert got == tiny_model.generate(PROMPTS, 10, temperature=1.0, seed=2, stop=stops)
    assert got[1].finish_reason == "stop" and len(got[1].text) < len(full[1].text)


def test_logprob_over_http_equals_local(remote: OpenAIModel, tiny_model: HFModel) -> None:
    prompts, conts = [p for p, _ in PAIRS], [c for _, c in PAIRS]
    got = remote.logprob(prompts, conts)
    assert got.dtype == np.float64 and got.shape == (len(PAIRS),) and got[2] == 0.0
    np.testing.assert_allclose(got, tiny_model.logprob(prompts, conts), rtol=0, atol=1e-4)


def test_logprob_refusals(remote: OpenAIModel) -> None:
    with pytest.raises(LMError, match="prompt 0 is a chat"):
        remote.logprob([CHAT], [" 4"])
    with pytest.raises(LMError, match="no logprob for the first token"):
        remote.logprob([""], ["Hello"])  # GPT-2 has no BOS: the first token has no context


class NoTokenScores:
    """A LanguageModel that is not white-box (no ``token_logprobs``): the server cannot echo per-token scores."""

    name = "plain"
    capabilities = Capabilities(chat_template=False, token_logprobs=True, white_box=False)

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        return [Generation("ok", 1, 1, "stop") for _ in prompts]

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        raise AssertionError("not used")


class Crashing(NoTokenScores):
    def generate(self, *args: Any, **kwargs: Any) -> list[Generation]:
        raise ZeroDivisionError("boom")


def test_server_without_token_scores_gives_clear_error() -> None:
    with serving(NoTokenScores()) as url:
        model = client(url, model=None)
        assert model.generate(["hi"], 3) == [Generation("ok", 1, 1, "stop")]
        with pytest.raises(LMError, match="HTTP 400: model 'plain' does not offer token logprobs"):
            model.logprob(["hi"], [" there"])


def test_server_crash_is_http_500_and_retried() -> None:
    with serving(Crashing(), name="crash") as url:
        with pytest.raises(LMError, match=rf"^generate request to {url}/completions failed after 3 attempts: "
                                          r"HTTP 500: ZeroDivisionError: boom$"):
            client(url).generate(["hi"], 3)


def test_serve_raw_protocol(served: str) -> None:
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{served}/models").json()["data"][0]["id"] == "tiny"
        assert http.get(f"{served}/nowhere").status_code == 404
        bad = http.post(f"{served}/completions", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "message" in bad.json()["error"]
        for body, message in [
            ({"prompt": "a", "n": 2}, "only n=1"),
            ({"prompt": 3}, "'prompt' must be"),
            ({"prompt": "a", "max_tokens": True}, "'max_tokens' has the wrong type"),
            ({"prompt": "a", "max_tokens": 0}, "only allowed with echo"),
            ({"prompt": "a", "temperature": -1}, "temperature must be"),
        ]:
            r = http.post(f"{served}/completions", json=body)
            assert r.status_code == 400 and message in r.json()["error"]["message"], (body, r.text)
        assert http.post(f"{served}/chat/completions", json={"messages": []}).status_code == 400
        echo = http.post(f"{served}/completions",
                         json={"prompt": "Hello, world!", "max_tokens": 0, "echo": True, "logprobs": 1}).json()
        info = echo["choices"][0]["logprobs"]
        assert echo["choices"][0]["text"] == "Hello, world!"
        assert info["tokens"] == ["Hello", ",", " world", "!"] and info["text_offset"] == [0, 5, 6, 12]
        assert info["token_logprobs"][0] is None and all(v < 0 for v in info["token_logprobs"][1:])
        plain = http.post(f"{served}/completions",
                          json={"prompt": "Hello, world!", "max_tokens": 3, "temperature": 0, "logprobs": 1}).json()
        text, info = plain["choices"][0]["text"], plain["choices"][0]["logprobs"]
        toks, offs, total = info["tokens"], info["text_offset"], len("Hello, world!") + len(text)
        assert "".join(toks).endswith(text) and offs[0] < len("Hello, world!") + 1  # tokens ending in the answer
        assert [o + len(t) for o, t in zip(offs, toks)] == [*offs[1:], total]  # they tile the text to its end
        assert plain["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}


def test_server_binds_loopback_only(tiny_model: HFModel) -> None:
    server = make_server(tiny_model)
    try:
        assert server.server_address[0] == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")
    finally:
        server.server_close()


def test_serve_cli_reports_load_errors(tmp_path: Any) -> None:
    with pytest.raises(SystemExit, match="error: model folder .* does not exist"):
        main([str(tmp_path / "missing"), "--port", "0"])


# ---- failure modes against fakes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_fails_at_once() -> None:
    # connection refused is not transient: one attempt, one line, even with retries and a long back-off
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.monotonic()
    with pytest.raises(LMError, match=rf"^generate request to {url}/completions failed: cannot connect \(connection "
                                      r"refused: is the server running and the port right\?; not retried\)$") as info:
        client(url, max_retries=5, backoff=2.0).generate(["hi"], 3)
    assert "\n" not in str(info.value) and time.monotonic() - start < 2
    with pytest.raises(LMError, match=f"models request to {url}/models failed: cannot connect"):
        OpenAIModel(url, model=None, max_retries=5, backoff=2.0)  # model discovery fails the same way
    assert time.monotonic() - start < 4


def test_a_host_that_does_not_resolve_fails_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(LMError, match=r"failed: cannot connect \(the host name does not resolve; not retried\)$"):
        client("http://no-such-host.invalid/v1", max_retries=5, backoff=2.0).generate(["hi"], 3)
    assert time.monotonic() - start < 10  # the resolver's own answer; no back-off on top


def test_no_such_model_404_fails_at_once() -> None:
    # vLLM's answer to a model name it does not serve
    def missing(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        send(h, 404, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}})

    with fake_server(missing) as (url, rec):
        start = time.monotonic()
        with pytest.raises(LMError, match=r"failed: HTTP 404: The model `x` does not exist\.$"):
            client(url, model="x", max_retries=5, backoff=2.0).generate(["hi"], 3)
        assert len(rec.requests) == 1 and time.monotonic() - start < 2


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The hub client as a user with internet has it, pointed at a loopback URL the test sets (never the hub)."""
    import huggingface_hub.constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # read at its import
    yield lambda url: monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", url)


def test_unknown_model_offline_is_one_line_at_once(monkeypatch: pytest.MonkeyPatch, capfd: Any) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(LMError, match=r"^model 'no-such-org/no-such-model' is not a short name \(tiny-gpt2, "
                                      r".*a cached hub model, and HF_HUB_OFFLINE is set") as info:
        load_model("no-such-org/no-such-model", device="cpu")
    assert "\n" not in str(info.value) and time.monotonic() - start < 5
    assert capfd.readouterr().err == ""  # no retry noise


def test_unknown_model_on_an_unreachable_hub_is_one_line_at_once(online: Any, capfd: Any) -> None:
    online(f"http://127.0.0.1:{free_port()}")
    start = time.monotonic()
    with pytest.raises(LMError, match=r"^cannot reach the hub for model 'nosuchmodel' \(.*[Cc]onnection refused.*\): "
                                      "name a short name"):
        load_model("nosuchmodel", device="cpu")
    assert time.monotonic() - start < 5 and "Retrying" not in capfd.readouterr().err


def test_model_the_hub_does_not_know_is_one_line_at_once(online: Any) -> None:
    def hub(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        send(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

    with fake_server(hub) as (url, rec):
        online(url.removesuffix("/v1"))
        with pytest.raises(LMError, match=r"^model 'no-such-org/x' is not a short name .* or a model on the hub"):
            load_model("no-such-org/x", device="cpu")
        assert len(rec.requests) == 1 and rec.requests[0][0] == "/api/models/no-such-org/x"


def test_slow_server_times_out() -> None:
    def slow(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        rec.release.wait(10)
        send(h, 200, completion("late"))

    with fake_server(slow) as (url, rec):
        start = time.monotonic()
        with pytest.raises(LMError, match=r"failed after 3 attempts: no answer within 0.3 s \(timeout\)$"):
            client(url, timeout=0.3).generate(["hi"], 3)
        assert time.monotonic() - start < 3 and len(rec.requests) == 3  # timeouts are retried, boundedly


@pytest.mark.parametrize(
    ("reply", "chat", "message", "tries"),
    [
        ((200, "<html>oops</html>"), False, r"3 attempts: answered non-JSON \(HTTP 200\): '<html>oops</html>'", 3),
        ((200, "[1, 2]"), False, "3 attempts: answered JSON that is not an object", 3),
        ((200, {"choices": []}), False, r"3 attempts: answered no choices", 3),
        ((200, {"choices": [{"text": 5}]}), False, r"3 attempts: answered JSON without a usable choices\[0\]\.text", 3),
        ((200, {"choices": [{"text": "x"}]}), True, r"^chat request to .* usable choices\[0\]\.message\.content", 3),
        ((404, {"error": {"message": "The model `m` does not exist."}}), False,
         "/completions failed: HTTP 404: The model `m` does", 1),  # a client error is not retried
    ],
)
def test_garbage_answers(reply: tuple[int, Any], chat: bool, message: str, tries: int) -> None:
    with fake_server(lambda h, i, b, r: send(h, *reply)) as (url, rec):
        with pytest.raises(LMError, match=message) as info:
            client(url).generate([CHAT if chat else "hi"], 3)
        assert "\n" not in str(info.value) and len(rec.requests) == tries


def test_non_http_garbage() -> None:
    class Garbage(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            self.wfile.write(b"\x00\x01 this is not HTTP at all\r\n\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Garbage)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with pytest.raises(LMError, match="failed after 3 attempts: no valid HTTP answer"):
            client(f"http://127.0.0.1:{server.server_address[1]}").generate(["hi"], 3)
    finally:
        server.shutdown()
        server.server_close()


def test_logprobs_not_offered_or_malformed() -> None:
    with fake_server(lambda h, i, b, r: send(h, 200, completion("x", logprobs=None))) as (url, rec):
        with pytest.raises(LMError, match="^logprob request to .* failed: does not offer echo logprobs"):
            client(url).logprob(["a"], ["b"])
        assert len(rec.requests) == 1  # a missing feature is not retried
    bad = {"tokens": ["a"], "token_logprobs": [-1.0], "text_offset": [0, 1]}
    with fake_server(lambda h, i, b, r: send(h, 200, completion("ab", logprobs=bad))) as (url, rec):
        with pytest.raises(LMError, match="failed after 3 attempts: answered mismatched logprobs: 1 token_logprobs"):
            client(url).logprob(["a"], ["b"])
        assert len(rec.requests) == 3


def test_vllm_style_echo_sums_continuation_tokens() -> None:
    """BOS with no score, prompt tokens, a straddling token, then the one generated token (excluded)."""
    info = {"tokens": ["<s>", "Hel", "lo wo", "rld", "!"], "token_logprobs": [None, -1.0, -2.0, -4.0, -8.0],
            "text_offset": [0, 0, 3, 8, 11]}
    with fake_server(lambda h, i, b, r: send(h, 200, completion("Hello world!", logprobs=info))) as (url, rec):
        assert client(url).logprob(["Hello"], [" world"])[0] == -6.0  # "lo wo" straddles, "rld" inside
        body = rec.requests[0][1]
        assert (body["prompt"], body["echo"], body["logprobs"], body["max_tokens"]) == ("Hello world", True, 1, 1)


def test_retries_5xx_and_429_then_succeeds() -> None:
    def flaky(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        if i == 0:
            send(h, 503, {"error": {"message": "warming up"}})
        elif i == 1:
            send(h, 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        else:
            send(h, 200, completion("fine"))

    with fake_server(flaky) as (url, rec):
        assert client(url).generate(["hi"], 3) == [Generation("fine", 3, 2, "length")]
        assert len(rec.requests) == 3


def test_retries_are_bounded_and_4xx_not_retried() -> None:
    with fake_server(lambda h, i, b, r: send(h, 502, "bad gateway")) as (url, rec):
        with pytest.raises(LMError, match="failed after 2 attempts: HTTP 502: 'bad gateway'"):
            client(url, max_retries=1).generate(["hi"], 3)
        assert len(rec.requests) == 2
    with fake_server(lambda h, i, b, r: send(h, 400, {"error": {"message": "bad field"}})) as (url, rec):
        with pytest.raises(LMError, match="/completions failed: HTTP 400: bad field$"):
            client(url, max_retries=5).generate(["hi"], 3)
        assert len(rec.requests) == 1


def test_backoff_schedule_has_bounded_jitter() -> None:
    model = client("http://127.0.0.1:9/v1", backoff=0.5, max_backoff=3.0)
    for attempt, cap in enumerate([0.5, 1.0, 2.0, 3.0, 3.0]):
        delays = [model._delay(attempt, None) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert max(delays) - min(delays) > cap / 4  # jittered: clients that failed together spread out
    response = httpx.Response(429, headers={"Retry-After": "1.5"})
    assert model._delay(0, response) == 1.5
    assert model._delay(0, httpx.Response(429, headers={"Retry-After": "99"})) == 3.0
    assert 1.0 <= model._delay(2, httpx.Response(429, headers={"Retry-After": "soon"})) <= 2.0


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        if h.headers.get("Authorization") != "Bearer sk-test":
            send(h, 401, {"error": {"message": "invalid api key"}})
        else:
            send(h, 200, completion("ok"))

    with fake_server(answer) as (url, rec):
        model = client(url, api_key_env="PERSUASION_TEST_KEY")
        monkeypatch.delenv("PERSUASION_TEST_KEY", raising=False)
        with pytest.raises(LMError, match=r"HTTP 401: invalid api key \(is \$PERSUASION_TEST_KEY set\?\)"):
            model.generate(["hi"], 3)
        assert "Authorization" not in rec.requests[0][2]
        monkeypatch.setenv("PERSUASION_TEST_KEY", "sk-test")
        assert model.generate(["hi"], 3)[0].text == "ok"


def test_requests_carry_fields_and_keep_order() -> None:
    def echo(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        time.sleep(0.01 * (i % 3))
        if "messages" in body:
            send(h, 200, {"choices": [{"message": {"content": "chat:" + body["messages"][-1]["content"]},
                                       "finish_reason": "stop"}]})
        else:
            send(h, 200, completion("echo:" + body["prompt"]))

    with fake_server(echo) as (url, rec):
        prompts: list[Prompt] = [f"p{i}" for i in range(7)] + [CHAT]
        gens = client(url, max_in_flight=4).generate(prompts, 5, temperature=0.5, seed=10, stop=["\n"])
        assert [g.text for g in gens] == [f"echo:p{i}" for i in range(7)] + ["chat:What is 2+2?"]
        assert gens[-1] == Generation("chat:What is 2+2?", 0, 0, "stop")  # no usage reported: counts are 0
        by_prompt = {json.dumps(b.get("prompt", b.get("messages"))): (p, b) for p, b, _ in rec.requests}
        for i, prompt in enumerate(prompts):
            path, body = by_prompt[json.dumps(prompt)]
            assert path == ("/v1/chat/completions" if i == 7 else "/v1/completions")
            assert (body["model"], body["max_tokens"], body["temperature"], body["seed"], body["stop"]) == (
                "m", 5, 0.5, 10 + i, ["\n"])


def test_well_formed_but_wrong_answers_are_kept_and_flagged() -> None:
    answers = {
        "empty": {"choices": [{"text": "", "finish_reason": "stop"}], "usage": {"completion_tokens": 5}},
        "filtered": {"choices": [{"text": "I can", "finish_reason": "content_filter"}]},
        "fine": {"choices": [{"text": "4", "finish_reason": "stop"}]},
        "null": {"choices": [{"message": {"content": None}, "finish_reason": "tool_calls"}]},
    }

    def reply(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        key = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
        send(h, 200, answers[key])

    with fake_server(reply) as (url, rec):
        gens = client(url).generate(["empty", "filtered", "fine", [{"role": "user", "content": "null"}]], 5)
    assert gens == [
        Generation("", 0, 5, "stop", flag="empty"),
        Generation("I can", 0, 0, "stop", flag="finish_reason=content_filter"),
        Generation("4", 0, 0, "stop"),
        Generation("", 0, 0, "stop", flag="empty"),
    ]
    assert len(rec.requests) == 4  # recorded as they are, not retried


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_limit(limit: int) -> None:
    barrier = threading.Barrier(2, timeout=10)

    def paired(h: BaseHTTPRequestHandler, i: int, body: dict[str, Any], rec: Recorder) -> None:
        if limit > 1:
            barrier.wait()  # returns only once two requests are in flight together
        time.sleep(0.02)
        send(h, 200, completion(body["prompt"]))

    with fake_server(paired) as (url, rec):
        gens = client(url, max_in_flight=limit).generate([f"p{i}" for i in range(6)], 2)
        assert [g.text for g in gens] == [f"p{i}" for i in range(6)]
        assert (rec.max_in_flight == 1) if limit == 1 else (2 <= rec.max_in_flight <= limit)


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1"),
        ("https://api.example.com/v1/", "https://api.example.com/v1"),
        ("https://host/openai/v1", "https://host/openai/v1"),
    ],
)
def test_base_url_normalisation(given: str, want: str) -> None:
    assert normalise_base_url(given) == want


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://x"}, "must be an http"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"max_in_flight": True}, "max_in_flight"),
        ({"backoff": -1}, "backoff"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], message: str) -> None:
    options = {"base_url": "http://127.0.0.1:9/v1", "model": "m", **kwargs}
    with pytest.raises(LMError, match=message):
        OpenAIModel(**options)

"""The HTTP Receiver against a faulty network: a fault-injecting proxy (tests/llm/fault_proxy.py, loopback only,
bounded in time and requests) in front of the package's own server (llm.backends.serve around a tiny GPT-2)."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import pytest

from llm.backends import load_model
from llm.backends.hf import HFModel
from llm.backends.openai_http import OpenAIModel
from llm.backends.serve import ModelServer, make_server
from llm.lm import Generation, LMError, PartialResults, Prompt
from tests.llm.fault_proxy import KINDS, FaultProxy, Periodic, RandomFaults, always, fault_proxy, when

GEN_PROMPTS = [f"Question {i}: what is {i} plus {i % 7}? Answer:" for i in range(64)]
PAIRS = [(f"Item {i} costs", f" {i + 3} dollars") for i in range(72)]
TIMEOUT = 1.0  # client timeout in these tests; the proxy's slow replies take 1.6 s


@contextmanager
def running(model: Any) -> Iterator[ModelServer]:
    server = make_server(model, name="tiny")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def served(tiny_model: HFModel) -> Iterator[str]:
    with running(tiny_model) as server:
        yield server.url


def client(url: str, **kwargs: Any) -> OpenAIModel:
    options = {"model": "tiny", "timeout": TIMEOUT, "max_retries": 5, "backoff": 0.02, "max_backoff": 0.2,
               "api_key_env": None, "max_in_flight": 16}
    options.update(kwargs)
    return OpenAIModel(url, **options)


@pytest.fixture(scope="module")
def clean(served: str) -> tuple[list[Generation], np.ndarray]:
    """The answers without faults, straight from the server."""
    with client(served, timeout=30.0) as model:
        return model.generate(GEN_PROMPTS, 4), model.logprob([p for p, _ in PAIRS], [c for _, c in PAIRS])


def test_batch_survives_every_kind_of_fault_with_the_same_answers(
        served: str, clean: tuple[list[Generation], np.ndarray]) -> None:
    gens, scores = clean
    with fault_proxy(served, Periodic(10), slow_s=TIMEOUT + 0.6, lifetime_s=60) as proxy:
        with client(proxy.url) as model:
            got = model.generate(GEN_PROMPTS, 4)
            got_scores = model.logprob([p for p, _ in PAIRS], [c for _, c in PAIRS])
    assert got == gens
    np.testing.assert_allclose(got_scores, scores, rtol=0, atol=1e-9)
    kinds = {kind for _, kind in proxy.injected}
    assert kinds == set(KINDS), kinds  # every kind of fault was met, and retried away
    rate = len(proxy.injected) / proxy.requests  # one request in ten; a reply slowed by a busy CPU adds retries
    assert 0.05 <= rate <= 0.11 and proxy.requests >= len(GEN_PROMPTS) + len(PAIRS) + len(proxy.injected)


@pytest.mark.parametrize(("rate", "seed"), [(0.02, 1), (0.05, 2)])
def test_random_faults_at_a_few_percent_change_no_answer(
        served: str, clean: tuple[list[Generation], np.ndarray], rate: float, seed: int) -> None:
    gens, scores = clean
    with fault_proxy(served, RandomFaults(rate, seed), slow_s=TIMEOUT + 0.6, lifetime_s=60) as proxy:
        with client(proxy.url) as model:
            assert model.generate(GEN_PROMPTS, 4) == gens
            np.testing.assert_allclose(model.logprob([p for p, _ in PAIRS], [c for _, c in PAIRS]), scores,
                                       rtol=0, atol=1e-9)
    assert proxy.injected  # faults did happen (the seeds are chosen so)


@pytest.mark.parametrize(
    ("kind", "fault", "endpoint"),
    [
        ("drop", r"no valid HTTP answer \(RemoteProtocolError: Server disconnected", True),
        ("reset", r"no valid HTTP answer \(ReadError", True),
        ("http5xx", "HTTP 503: injected: overloaded", True),
        ("slow", r"no answer within 0.3 s \(timeout\)", True),
        ("malformed", r"answered non-JSON \(HTTP 200\): '\{\"id\": \"cmpl-x\"", False),
        ("empty-choices", r"answered no choices \(choices=\[\]\)", False),
    ],
)
def test_a_persistent_fault_ends_in_one_line(served: str, kind: str, fault: str, endpoint: bool) -> None:
    with fault_proxy(served, always(kind), slow_s=0.6, lifetime_s=30) as proxy:
        start = time.monotonic()
        with pytest.raises(LMError) as info:
            client(proxy.url, timeout=0.3, max_retries=2, max_in_flight=4).generate(GEN_PROMPTS[:10], 4)
        elapsed = time.monotonic() - start
    message = str(info.value)
    assert "\n" not in message and elapsed < 10
    where = re.escape(f"generate request to {proxy.url}/completions failed after 3 attempts: ")
    assert re.search(f"^10 of 10 generate prompts failed \\(0 completed\\); first: {where}{fault}", message), message
    if endpoint:  # a dead endpoint: requests not yet sent are not sent, so it ends after one round of retries
        assert proxy.requests <= 4 * 3 and "not sent: stopped after an endpoint fault" in info.value.errors[-1]
    else:  # a bad answer to one prompt does not stop the others
        assert proxy.requests == 10 * 3


def test_a_single_prompt_failing_gives_just_its_line(served: str) -> None:
    with fault_proxy(served, always("http5xx")) as proxy:
        with pytest.raises(PartialResults, match=r"^logprob request to .*/v1/completions failed after 2 attempts: "
                                                 r"HTTP 503: injected: overloaded$") as info:
            client(proxy.url, max_retries=1).logprob(["Hello"], [" world"])
    assert info.value.results == [None] and len(info.value.errors) == 1


def test_partial_results_keep_every_completed_prompt(
        served: str, clean: tuple[list[Generation], np.ndarray]) -> None:
    gens, _ = clean
    poisoned = {2, 7, 11}
    prompts = [p + (" POISON" if i in poisoned else "") for i, p in enumerate(GEN_PROMPTS[:16])]
    reference = [None if i in poisoned else g for i, g in enumerate(gens[:16])]
    with fault_proxy(served, when(lambda body: "POISON" in body.get("prompt", ""), "malformed")) as proxy:
        with pytest.raises(PartialResults) as info:
            client(proxy.url, timeout=30.0, max_retries=2, max_in_flight=4).generate(prompts, 4)
    exc = info.value
    assert exc.results == reference and exc.completed == 13
    assert [e.split(":")[0] for e in exc.errors] == ["prompt 2", "prompt 7", "prompt 11"]
    assert all("failed after 3 attempts: answered non-JSON" in e for e in exc.errors)
    assert str(exc).startswith("3 of 16 generate prompts failed (13 completed); first: generate request to ")


def test_an_endpoint_dying_mid_batch_costs_at_most_the_rows_in_flight(
        served: str, clean: tuple[list[Generation], np.ndarray]) -> None:
    _, scores = clean
    prompts, conts = [p for p, _ in PAIRS[:40]], [c for _, c in PAIRS[:40]]
    with fault_proxy(served, lambda i, path, body: None, max_requests=12) as proxy:  # then it drops everything
        with pytest.raises(PartialResults) as info:
            client(proxy.url, timeout=30.0, max_retries=2, max_in_flight=4).logprob(prompts, conts)
    exc = info.value
    done = [i for i, r in enumerate(exc.results) if r is not None]
    assert len(done) == 12  # every request answered before the fault is kept
    np.testing.assert_allclose([exc.results[i] for i in done], scores[done], rtol=0, atol=1e-9)
    tried = [e for e in exc.errors if "not sent" not in e]
    assert len(tried) <= 4 and len(exc.errors) == 40 - 12  # lost to the fault: only the rows in flight


class Gate:
    """The tiny GPT-2, with its first call held until the server counts ``target`` requests in flight (10 s max)."""

    def __init__(self, model: HFModel, target: int) -> None:
        self.model, self.target, self.name = model, target, model.name
        self.capabilities = model.capabilities
        self.server: ModelServer | None = None
        self.opened = False

    def generate(self, prompts: Sequence[Prompt], *args: Any, **kwargs: Any) -> list[Generation]:
        deadline = time.monotonic() + 10
        while not self.opened and self.server is not None and time.monotonic() < deadline:
            if self.server.in_flight >= self.target:
                break
            time.sleep(0.005)
        self.opened = True
        return self.model.generate(prompts, *args, **kwargs)

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        return self.model.logprob(prompts, continuations)


@pytest.mark.parametrize("limit", [64, 9])
def test_server_sees_max_in_flight_concurrent_requests(
        tiny_model: HFModel, clean: tuple[list[Generation], np.ndarray], limit: int) -> None:
    gens, _ = clean
    gate = Gate(tiny_model, limit)
    prompts = GEN_PROMPTS + GEN_PROMPTS[:36]  # 100 prompts
    with running(gate) as server:
        gate.server = server
        model = load_model(server.url + "#tiny", api_key_env=None, timeout=30.0, max_retries=0, max_in_flight=limit)
        got = model.generate(prompts, 4)
    assert server.peak_in_flight == limit  # all requests the client may keep in flight arrive together
    assert got == gens + gens[:36]  # in prompt order


def test_default_keeps_64_in_flight_and_load_model_passes_options(served: str) -> None:
    model = load_model(served, api_key_env=None)
    assert (model.max_in_flight, model.max_retries, model.timeout) == (64, 5, 60.0)
    model = load_model(served, api_key_env=None, timeout=2.5, max_retries=1, max_in_flight=3)
    assert (model.max_in_flight, model.max_retries, model.timeout) == (3, 1, 2.5)


def test_proxy_is_loopback_only_and_stops_by_itself(served: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        FaultProxy("http://example.com:80/v1", always("drop"))
    with fault_proxy(served, lambda i, p, b: None, lifetime_s=0.3) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        assert client(proxy.url).generate(["Hi"], 2)[0].new_tokens == 2
        time.sleep(0.6)
        assert proxy.stopping.is_set()
        with pytest.raises(LMError, match="cannot connect"):
            client(proxy.url, max_retries=0).generate(["Hi"], 2)

"""The backend registry: a spec's prefix picks the loader, one LoadOptions is passed whole, bad specs fail in one line."""

from __future__ import annotations

import pytest

from llm.backends import registry
from llm.backends.registry import BACKENDS, LOCAL, LoadOptions, backend_of, load_model
from llm.lm import LMError, white_box


@pytest.mark.parametrize("spec, target", [
    ("simulated", "llm.backends.simulated:load"),
    ("simulated:unlearnable", "llm.backends.simulated:load"),
    ("http://127.0.0.1:8000/v1#m", "llm.backends.openai_http:load"),
    ("https://api.example/v1", "llm.backends.openai_http:load"),
    ("tiny-gpt2", LOCAL), ("./runs/final", LOCAL), ("Qwen/Qwen2.5-0.5B-Instruct", LOCAL), ("simulatedx", LOCAL),
])
def test_the_prefix_picks_the_backend(spec: str, target: str) -> None:
    assert backend_of(spec) == target


def test_the_longest_prefix_wins_and_options_arrive_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setitem(BACKENDS, "simulated:special", "x:load")
    monkeypatch.setattr(registry, "loader", lambda target: lambda spec, options: seen.append((target, spec, options)))
    load_model(" simulated:special ", LoadOptions(batch_size=3), timeout=7.0)
    assert seen == [("x:load", "simulated:special", LoadOptions(batch_size=3, timeout=7.0))]


@pytest.mark.parametrize("spec", ["", "   ", None, 3])
def test_a_bad_spec_is_one_line(spec: object) -> None:
    with pytest.raises(LMError, match="non-empty str"):
        load_model(spec)  # type: ignore[arg-type]


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError):
        load_model("simulated", batch_sise=4)


def test_the_simulated_receiver_loads_through_the_registry() -> None:
    model = load_model("simulated")
    assert model.name and not model.capabilities.white_box
    with pytest.raises(LMError, match="needs a local model") as exc:
        white_box(model, "hidden-state features")
    assert "\n" not in str(exc.value)

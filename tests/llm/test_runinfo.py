"""The run facts every results page states: machine, engines, seeds, tokens and time."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, strategies as st

from llm.bpa.config import BPAConfig
from llm.rows import EvalRow, FeedbackRow
from llm.runinfo import cpu_name, engine, machine, memory_gib, run_facts, run_facts_markdown, totals


def test_cpu_and_memory_are_read_from_proc_files(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: AMD EPYC 9999 64-Core Processor\nflags\t: avx\n")
    (tmp_path / "meminfo").write_text("MemTotal:       25165824 kB\nMemFree: 1 kB\n")
    assert cpu_name(tmp_path / "cpuinfo") == "AMD EPYC 9999 64-Core Processor"
    assert memory_gib(tmp_path / "meminfo") == 24.0
    assert memory_gib(tmp_path / "missing") is None


def test_machine_names_the_cores_this_process_may_use_and_torch():
    m = machine()
    assert m["cores"] >= 1 and "torch" in m["versions"] and isinstance(m["gpus"], list)


def test_engine_reports_what_the_model_exposes():
    model = SimpleNamespace(device="cpu", dtype="torch.bfloat16", batch_size=64)
    facts = engine(model)
    assert facts["backend"].endswith("SimpleNamespace")
    assert facts["device"] == "cpu" and facts["dtype"] == "torch.bfloat16" and facts["batch_size"] == 64
    assert set(engine(object())) == {"backend"}


def _row(i: int, tokens: int, seconds: float, k: int) -> FeedbackRow:
    return FeedbackRow(f"k{i}", "sim", f"p{i}", "none", "template", None, (True,) * k, (), seconds, tokens)


rows = st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 100), st.integers(1, 8)), max_size=20)


@given(rows, rows)
def test_totals_add_over_concatenated_rows(a, b):
    ra = [_row(i, *x) for i, x in enumerate(a)]
    rb = [_row(i, *x) for i, x in enumerate(b)]
    ta, tb, tab = totals(ra), totals(rb), totals(ra + rb)
    assert tab["new_tokens"] == ta["new_tokens"] + tb["new_tokens"]
    assert tab["answers"] == ta["answers"] + tb["answers"] == sum(x[2] for x in a + b)
    assert abs(tab["seconds"] - ta["seconds"] - tb["seconds"]) < 1e-6 * (1 + tab["seconds"])
    assert totals([r.to_dict() for r in ra]) == ta  # rows or their dicts


def _eval(condition: str, prompt: str, tokens: int = 300, seconds: float = 2.0) -> EvalRow:
    return EvalRow(f"p|{condition}|q", "p", condition, "bpa", "q", prompt, "#### 4", True, seconds=seconds,
                   new_tokens=tokens)


def test_totals_count_a_generation_that_conditions_share_once():
    shared = [_eval("baseline", "P"), _eval("signal", "P"), _eval("matched", "P")]  # silence: one answer
    assert totals(shared) == {"new_tokens": 300, "seconds": 2.0, "answers": 1, "tokens_per_s": 150.0}
    hinted = shared + [_eval("prior", "P + hint", 500, 3.0)]
    assert totals(hinted)["new_tokens"] == 800 and totals(hinted)["answers"] == 2
    assert totals([r.to_dict() for r in hinted]) == totals(hinted)


def test_the_paragraph_states_hardware_engine_seed_tokens_and_time():
    facts = run_facts(BPAConfig(seed=7), {"qwen": engine(SimpleNamespace(device="cpu", dtype="torch.bfloat16"))},
                      {"feedback": [_row(0, 1200, 10.0, 2)], "evaluation": []}, 90.0, "vllm")
    text = run_facts_markdown(facts)
    assert "This call's engine for local Receivers: vLLM." in text  # stated even by a call that loaded no Receiver
    assert "none (every answer was on disk)" in run_facts_markdown({**facts, "engines": {}})
    assert "Hardware:" in text and f"{facts['machine']['cores']} cores" in text
    assert "`qwen`" in text and "bfloat16" in text and "Seed 7" in text
    assert "feedback: 2 answers, 1,200 tokens" in text and "(120 tokens/s)" in text
    assert "evaluation: 0 answers" in text and "1.5 min wall" in text

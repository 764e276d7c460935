"""Aligner: Q-A-C data, the corrector wrapper and its costs, and a corrector trained to fix answers end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.lm import LanguageModel, LMError
from llm.methods.aligner import (
    ALIGNER_PROMPT,
    AlignedModel,
    QARecord,
    aligner_prompt,
    correction_target,
    identity_pairs,
    qac_pairs,
    question_text,
    train_corrector,
)
from llm.methods.cost import Cost
from llm.tasks import get_task
from tests.llm.fake_lm import FakeLM

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def test_question_text_of_text_and_chat():
    assert question_text("  Question: 2+2?\nAnswer:  ") == "Question: 2+2?\nAnswer:"
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": " first "},
            {"role": "assistant", "content": "a"}, {"role": "user", "content": "last?"}]
    assert question_text(chat) == "last?"
    with pytest.raises(LMError, match="user message"):
        question_text([{"role": "system", "content": "s"}])


@given(q=text, a=text, ok=st.booleans(), ref=text)
def test_qac_pairs_target_is_answer_iff_correct(q, a, ok, ref):
    rec = QARecord(q, a, ok, ref)
    [(prompt, target)] = qac_pairs([rec])
    assert prompt == ALIGNER_PROMPT.format(question=q.strip(), answer=a.strip()) == aligner_prompt(q, a)
    assert target == (a.strip() if ok else ref.strip()) == correction_target(rec)
    assert identity_pairs([rec]) == [(prompt, a.strip())]


def _corrector(reply):
    seen: list[str] = []

    def answer(prompt: str) -> str:
        seen.append(prompt)
        return reply(prompt)

    return FakeLM("corrector", reply=answer), seen


def test_aligned_model_rewrites_and_counts_costs():
    base = FakeLM("base", reply=lambda p: " I think 7.")
    corrector, seen = _corrector(lambda p: " 3 + 4 = 7\n#### 7\n### Question\nnext")
    model = AlignedModel(base, corrector)
    assert isinstance(model, LanguageModel) and model.name == "base+aligner"
    gens = model.generate(["Question: 3+4?\nAnswer:", [{"role": "user", "content": "5+5?"}]], max_new_tokens=20)
    assert [g.text for g in gens] == ["3 + 4 = 7\n#### 7"] * 2  # cut at ALIGNER_STOP, stripped
    assert seen[0] == aligner_prompt("Question: 3+4?\nAnswer:", "I think 7.")
    assert seen[1] == aligner_prompt("5+5?", "I think 7.")
    assert all(c.fired and c.p_correct is None and c.rewritten for c in model.last)
    assert [c.cost.calls for c in model.last] == [1, 1]
    assert model.last[0].cost.prompt_tokens == len(seen[0].split())  # FakeLM counts words
    assert model.extra.calls == 2 and model.extra.new_tokens == sum(c.cost.new_tokens for c in model.last)
    assert gens[0].new_tokens == 3 + model.last[0].cost.new_tokens  # Receiver's + corrector's tokens


def test_logprob_is_the_correctors_given_the_greedy_answer():
    base = FakeLM("base", reply=lambda p: " four")
    corrector = FakeLM("corrector", seed=5)
    model = AlignedModel(base, corrector, answer_tokens=8)
    got = model.logprob(["2+2?", "3+3?"], ["4", "6"])
    want = corrector.logprob([aligner_prompt("2+2?", "four"), aligner_prompt("3+3?", "four")], ["4", "6"])
    assert np.array_equal(got, want) and got.dtype == np.float64


def test_empty_correction_keeps_the_answer():
    corrector, _ = _corrector(lambda p: "   \n### Verdict")
    model = AlignedModel(FakeLM("b"), corrector)
    fixes = model.correct(["q1", "q2"], ["answer one", "answer two"])
    assert [f.final for f in fixes] == ["answer one", "answer two"]
    assert not any(f.rewritten for f in fixes) and all(f.fired for f in fixes)
    with pytest.raises(LMError, match="2 prompts but 1"):
        model.correct(["q1", "q2"], ["a"])


def test_cost_addition():
    total = Cost(1, 10, 5, 0.5) + Cost(2, 3, 1, 0.25)
    assert total == Cost(3, 13, 6, 0.75) and total.tokens == 19


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_dir):
    """A corrector (n_embd 64) trained, after an identity warm-up, to rewrite two wrong answers as references."""
    from llm.backends.models import tiny_gpt2
    from llm.train import TrainConfig

    root = tmp_path_factory.mktemp("aligner")
    start = tiny_gpt2(root / "start", seed=3, n_embd=64)
    task = get_task("synthetic")
    problems = task.load("train", limit=2)
    records = [QARecord(question_text(task.prompt(p)), "I am not sure.", False, task.reference_response(p))
               for p in problems]
    tc = TrainConfig(learning_rate=4e-3, epochs=45, batch_size=2, seed=0, save_every=1000)
    info = train_corrector(str(start), records, root / "run", tc, warmup=True)
    return task, problems, records, info, start, root, tc


def test_corrector_learns_to_fix_wrong_answers(trained):
    from llm.backends.hf import HFModel

    task, problems, records, info, start, _, _ = trained
    assert info["warmup"]["steps"] == 1 and info["sft"]["steps"] == 45 and info["wrong_answers"] == 2
    assert info["sft"]["last_loss"] < 0.1 * info["sft"]["first_loss"]
    base = HFModel.from_pretrained(str(start), device="cpu", dtype="float32", batch_size=2)
    corrector = HFModel.from_pretrained(info["model"], device="cpu", dtype="float32", batch_size=2)
    prompts = [task.prompt(p) for p in problems]
    before = [task.grade(p, a) for p, a in zip(problems, ["I am not sure."] * 2)]
    fixes = AlignedModel(base, corrector).correct(prompts, ["I am not sure."] * 2, max_new_tokens=90)
    assert before == [False, False]
    assert [task.grade(p, f.final) for p, f in zip(problems, fixes)] == [True, True]
    assert [f.final for f in fixes] == [r.reference for r in records]


def test_training_resumes_without_retraining(trained):
    _, _, records, info, start, root, tc = trained
    again = train_corrector(str(start), records, root / "run", tc, warmup=True)
    assert again["model"] == info["model"] and again["sft"] == info["sft"]
    with pytest.raises(LMError, match="at least one"):
        train_corrector(str(start), [], root / "empty", tc)
    assert Path(info["model"], "config.json").exists()

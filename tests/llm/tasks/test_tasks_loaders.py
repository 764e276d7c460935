"""Data-root resolution and the GSM8K / HumanEval / MBPP loaders (llm/tasks/data.py and the loader modules)."""

import gzip
import json
import sys
from pathlib import Path

import pytest

from llm.tasks import data
from llm.tasks.base import DataNotFoundError, TaskError
from llm.tasks.data import ENV_VAR, hub_name, resolve_data_root
from llm.tasks.gsm8k import load_gsm8k
from llm.tasks.humaneval import load_humaneval
from llm.tasks.mbpp import entry_point, load_mbpp, split_of


def _shared_root() -> Path | None:
    try:
        return resolve_data_root()
    except DataNotFoundError:
        return None


SHARED = _shared_root()
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "gsm8k").is_dir(),
    reason=f"benchmark files absent: set {ENV_VAR} to a folder with gsm8k/, humaneval/, mbpp/ (or ../shared/data)",
)


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    _write_jsonl(root / "gsm8k" / "test.jsonl", [
        {"question": "What is 2+3?", "answer": "2+3=<<2+3=5>>5\n#### 5"},
        {"question": "How many?", "answer": "It is 1,000.\n#### 1,000"},
        {"question": "Third?", "answer": "#### 7"},
    ])
    _write_jsonl(root / "gsm8k" / "train.jsonl", [{"question": "q", "answer": "#### 1"}])
    _write_jsonl(root / "humaneval" / "HumanEval.jsonl.gz", [{
        "task_id": "HumanEval/0", "prompt": "def add(a, b):\n    \"\"\"Add.\"\"\"\n",
        "canonical_solution": "    return a + b\n", "test": "def check(f):\n    assert f(1, 2) == 3\n",
        "entry_point": "add",
    }])
    _write_jsonl(root / "mbpp" / "mbpp.jsonl", [
        {"task_id": t, "text": f"task {t}", "code": f"def helper():\r\n  pass\r\ndef f{t}(x):\r\n  return x",
         "test_setup_code": "", "test_list": [f"assert f{t}(1) == 1"], "challenge_test_list": []}
        for t in (600, 3, 11, 510, 511, 601, 974)
    ])
    return root


def test_explicit_path_beats_env(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert resolve_data_root(tiny_root) == tiny_root
    assert len(load_gsm8k("test", path=tiny_root)) == 3


def test_env_var_beats_default(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tiny_root))
    assert resolve_data_root() == tiny_root
    assert [p.answer for p in load_gsm8k("test")] == ["5", "1000", "7"]


def test_default_root_then_clear_error(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(data, "DEFAULT_ROOT", tiny_root)
    assert resolve_data_root() == tiny_root
    monkeypatch.setattr(data, "DEFAULT_ROOT", tmp_path / "missing")
    with pytest.raises(DataNotFoundError, match=ENV_VAR) as info:
        load_gsm8k("test")
    assert isinstance(info.value, FileNotFoundError) and "\n" not in str(info.value)


def test_bad_env_and_missing_file(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match=f"{ENV_VAR}="):
        resolve_data_root()
    with pytest.raises(DataNotFoundError, match="humaneval/HumanEval.jsonl.gz not found"):
        load_humaneval(path=tiny_root / "gsm8k")


def test_gsm8k_records(tiny_root: Path) -> None:
    problems = load_gsm8k("test", path=tiny_root / "gsm8k" / "test.jsonl", limit=2)
    assert [p.id for p in problems] == ["gsm8k/test/0", "gsm8k/test/1"]
    assert problems[0].solution.endswith("#### 5") and problems[0].question == "What is 2+3?"
    assert load_gsm8k("test", path=tiny_root, limit=0) == []
    with pytest.raises(TaskError, match="split"):
        load_gsm8k("dev", path=tiny_root)


def test_malformed_records(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "a" / "test.jsonl", [{"question": "q"}])
    with pytest.raises(TaskError, match="missing"):
        load_gsm8k("test", path=tmp_path / "a")
    _write_jsonl(tmp_path / "b" / "test.jsonl", [{"question": "q", "answer": "no final line"}])
    with pytest.raises(TaskError, match="####"):
        load_gsm8k("test", path=tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "test.jsonl").write_text("{not json\n")
    with pytest.raises(TaskError, match="not valid JSON"):
        load_gsm8k("test", path=tmp_path / "c")


def test_humaneval_records(tiny_root: Path) -> None:
    (problem,) = load_humaneval(path=tiny_root)
    assert (problem.id, problem.entry_point, problem.source, problem.setup) == ("HumanEval/0", "add", "humaneval", "")


def test_mbpp_splits(tiny_root: Path) -> None:
    assert [p.metadata["task_id"] for p in load_mbpp("test", path=tiny_root)] == [11, 510]
    assert [p.metadata["task_id"] for p in load_mbpp("validation", path=tiny_root)] == [511, 600]
    assert [p.metadata["task_id"] for p in load_mbpp("train", path=tiny_root)] == [601, 974]
    assert [p.metadata["task_id"] for p in load_mbpp("prompt", path=tiny_root)] == [3]
    every = load_mbpp("all", path=tiny_root)
    assert [p.metadata["task_id"] for p in every] == [3, 11, 510, 511, 600, 601, 974]
    assert every[0].entry_point == "f3" and "\r" not in every[0].canonical_solution
    with pytest.raises(TaskError, match="split"):
        load_mbpp("dev", path=tiny_root)
    with pytest.raises(TaskError, match="outside"):
        split_of(975)


def test_mbpp_entry_point() -> None:
    assert entry_point("def g(x):\n  pass\ndef f(x):\n  return g(x)", "assert f(1) == 1") == "f"
    assert entry_point("def f(x):\n  pass", "assert math.isclose(1, 1)") == "f"
    with pytest.raises(TaskError, match="no top-level function"):
        entry_point("x = 1", "assert x")


def test_hub_names_need_datasets(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub_name("hf:openai/gsm8k") == "openai/gsm8k" and hub_name("hf://openai/gsm8k") == "openai/gsm8k"
    assert hub_name("openai/gsm8k") == "openai/gsm8k"
    assert hub_name(str(tiny_root)) is None and hub_name(tiny_root) is None and hub_name(None) is None
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(DataNotFoundError, match="needs the `datasets` package"):
        load_gsm8k("test", path="hf:openai/gsm8k")
    with pytest.raises(DataNotFoundError, match="datasets"):
        load_mbpp("test", path="google-research-datasets/mbpp")


@needs_shared
def test_shared_data_counts() -> None:
    assert len(load_gsm8k("test")) == 1319
    assert len(load_gsm8k("train")) == 7473
    assert len(load_humaneval()) == 164
    assert len(load_mbpp("all")) == 974
    sizes = {s: len(load_mbpp(s)) for s in ("test", "train", "validation", "prompt")}
    assert sizes == {"test": 500, "train": 374, "validation": 90, "prompt": 10}


@needs_shared
def test_shared_references_grade_correct() -> None:
    from llm.tasks.answers import grade_gsm8k

    problems = load_gsm8k("test")
    assert all(grade_gsm8k(p.solution, p.answer) for p in problems)
    assert len({p.id for p in problems}) == 1319


def test_missing_data_errors_name_the_cli_flag(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The experiments' flag is --data (llm/experiment_cli.py); "path=..." alone means nothing on a command line.
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(data, "DEFAULT_ROOT", tmp_path / "missing")
    with pytest.raises(DataNotFoundError, match="pass --data DIR"):
        resolve_data_root()
    with pytest.raises(DataNotFoundError, match="pass --data DIR"):
        load_humaneval(path=tiny_root / "gsm8k")

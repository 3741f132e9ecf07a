"""Packaged-policy provisioning: cold GGUF conversion vs loading the cached folder.

Both measured in this run, side by side: the cold path converts into a fresh
temporary artifact store; the warm path loads the already-converted folder.
Prints the ratio and checks the two models give identical logits; records both
in ``bench/results/bench_model_cache.json``.
"""

import tempfile
import time
from pathlib import Path

import torch

from sp_prm_lib.config.profile import ModelSpec
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.models.loading import convert_gguf, load_policy
from sp_prm_lib.notebook import quiet

import _record

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def main() -> None:
    quiet()
    with tempfile.TemporaryDirectory() as tmp:
        cold_store = ArtifactStore(Path(tmp))
        t0 = time.perf_counter()
        convert_gguf(MODEL, cold_store)
        cold_model, tok = load_policy(ModelSpec(id=MODEL, source="package"), cold_store)
        cold = time.perf_counter() - t0
    convert_gguf(MODEL)  # make sure the warm cache exists before timing it
    t0 = time.perf_counter()
    warm_model, _ = load_policy(ModelSpec(id=MODEL, source="package"))
    warm = time.perf_counter() - t0
    ids = tok("Side by side.", return_tensors="pt").input_ids
    with torch.no_grad():
        diff = (cold_model(ids).logits - warm_model(ids).logits).abs().max().item()
    print(
        f"policy provisioning: cold convert+load {cold:.2f}s, cached load {warm:.2f}s, "
        f"ratio {cold / warm:.1f}x, max |logit diff| {diff:.2e}"
    )
    measurement = _record.timing(
        "Policy provisioning (SmolLM2-135M-Instruct): load of the cached converted folder vs "
        "cold GGUF conversion + load",
        ("cached load", warm),
        ("cold conversion + load", cold),
        same={"max_abs_diff": diff},
    )
    _record.write(Path(__file__).stem, "Model cache", [measurement])


if __name__ == "__main__":
    main()

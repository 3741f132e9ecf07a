"""Models: tiny random models of the paper's classes, local/hub/package resolution."""

import pytest
import torch

from sp_prm_lib.config.profile import ModelSpec
from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.models.chat import chat_prompt_ids, render_chat
from sp_prm_lib.models.loading import (
    PACKAGED,
    convert_gguf,
    load_policy,
    load_sequence_classifier,
    package_path,
    provision,
    resolve,
)
from sp_prm_lib.models.tiny import ARCHITECTURES, byte_tokenizer, tiny_model


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_tiny_models_build_and_run_batched(arch):
    model, tok = tiny_model(arch, seed=1)
    batch = tok(["a longer text here", "short"], return_tensors="pt", padding=True)
    out = model(**batch).logits
    expected_last = len(tok) if arch.endswith("causal-lm") else 1
    assert out.shape[0] == 2 and out.shape[-1] == expected_last
    assert torch.isfinite(out).all()
    again, _ = tiny_model(arch, seed=1)
    assert torch.equal(again(**batch).logits, out)  # deterministic per seed


def test_byte_tokenizer_round_trips_any_text():
    tok = byte_tokenizer()
    for text in ["plain", "ünïcödé ✓ 漢字", "  spaces\n\tand tabs "]:
        assert tok.decode(tok(text).input_ids) == text


def test_local_folder_round_trip_with_layer_truncation(tmp_path):
    model, tok = tiny_model("llama-causal-lm", layers=3)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    full, _ = load_policy(ModelSpec(id=str(tmp_path), source="local"))
    cut, tok2 = load_policy(ModelSpec(id=str(tmp_path), source="local", num_layers=1))
    assert full.config.num_hidden_layers == 3 and cut.config.num_hidden_layers == 1
    assert torch.equal(cut.model.layers[0].mlp.up_proj.weight, model.model.layers[0].mlp.up_proj.weight)
    assert tok2.pad_token is not None


@pytest.mark.parametrize("arch", ["llama-reward", "gemma-reward", "deberta-v2-reward"])
def test_sequence_classifier_loads_from_local_folder(arch, tmp_path):
    model, tok = tiny_model(arch)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    rm, _ = load_sequence_classifier(ModelSpec(id=str(tmp_path), source="local"))
    batch = tok(["x y z"], return_tensors="pt")
    assert torch.allclose(rm(**batch).logits, model(**batch).logits)


def test_causal_backbone_becomes_a_reward_model_with_new_head(tmp_path):
    model, tok = tiny_model("llama-causal-lm")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    rm, _ = load_sequence_classifier(ModelSpec(id=str(tmp_path), source="local"))
    assert rm.config.num_labels == 1 and rm.config.pad_token_id == tok.pad_token_id
    assert rm(**tok(["hi"], return_tensors="pt")).logits.shape == (1, 1)


def test_chat_prompt_ids_equal_the_tokenizers_own_rendering():
    _, tok = tiny_model("llama-causal-lm")
    msgs = [{"role": "user", "content": "hello"}]
    ids = chat_prompt_ids(tok, msgs)
    own = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert ids == list(own) and tok.decode(ids).endswith("assistant\n")


def test_render_chat_folds_the_system_turn_where_the_template_has_no_system_role():
    _, tok = tiny_model("llama-causal-lm")
    tok.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    text = render_chat(tok, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert text == "<user>Be brief.\n\nhi<assistant>"
    with pytest.raises(ConfigError, match="empty message list"):
        render_chat(tok, [])


def test_unknown_packaged_model_is_a_clear_error():
    with pytest.raises(ModelError, match="not shipped in any known package"):
        package_path("meta-llama/Llama-3.2-1B")


def test_local_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve(ModelSpec(id=str(tmp_path), source="local"))


def test_hub_download_failure_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError) as info:
        provision(ModelSpec(id="someone/not-a-cached-model", source="hub"))
    assert "someone/not-a-cached-model" in str(info.value) and "\n" not in str(info.value)


def test_hub_spec_resolves_to_its_id():
    assert resolve(ModelSpec(id="weqweasdas/RM-Gemma-2B", source="hub")) == "weqweasdas/RM-Gemma-2B"


@pytest.mark.slow
def test_packaged_policy_conversion_is_verified():
    art = convert_gguf("HuggingFaceTB/SmolLM2-135M-Instruct")
    facts = art.manifest["facts"]
    assert facts["max_abs_logit_diff"] <= 1e-4
    assert facts["parameters"] == 134_515_008
    assert (art.path / "model.safetensors").is_file() and (art.path / "tokenizer.json").is_file()
    assert "sentence-transformers/all-MiniLM-L6-v2" in PACKAGED
    assert (package_path("sentence-transformers/all-MiniLM-L6-v2") / "config.json").is_file()


@pytest.mark.slow
def test_embedder_gives_unit_cosine_for_identical_text():
    from sp_prm_lib.models.loading import load_embedder

    emb = load_embedder(ModelSpec(id="sentence-transformers/all-MiniLM-L6-v2", source="package"))
    v = emb.encode(
        ["a cat sat on the mat", "a cat sat on the mat", "quantum chromodynamics"],
        convert_to_tensor=True,
        normalize_embeddings=True,
    )
    assert v.shape == (3, 384)
    assert float(v[0] @ v[1]) == pytest.approx(1.0, abs=1e-5)
    assert float(v[0] @ v[2]) < 0.5


def test_pooler_embedder_reads_the_pooler_output(tmp_path):
    """SimCSE-style embedders use pooler_output; tested on a tiny BERT built from a config."""
    from transformers import BertConfig, BertModel

    from sp_prm_lib.models.loading import PoolerEmbedder

    tok = byte_tokenizer()
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    emb = PoolerEmbedder(str(tmp_path))
    vectors = emb.encode(["a sentence", "another one"], convert_to_tensor=True, normalize_embeddings=True)
    assert vectors.shape == (2, 16) and torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-5)
    batch = emb.tokenizer(["a sentence"], return_tensors="pt")
    with torch.no_grad():
        expected = emb.model(**batch).pooler_output[0]
    assert torch.allclose(torch.as_tensor(emb.encode("a sentence")), expected, atol=1e-5)

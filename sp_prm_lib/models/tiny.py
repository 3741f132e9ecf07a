"""Tiny random models of the paper's architecture classes, built from configs.

The paper profile runs Llama and Gemma causal LMs, Llama/Gemma reward models
(sequence classifiers) and a DeBERTa-v2 reward model. Tests exercise the same
code paths on miniature random versions of those classes, with a byte-level
tokenizer that needs no download (it has a chat template), or, for the
DeBERTa RM as the paper uses it (a text pair, no chat template),
``deberta_tokenizer``: the real ``DebertaV2Tokenizer`` class over a tiny
character vocabulary.
"""

from __future__ import annotations

import torch

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]
# A minimal ChatML-like template so chat formatting code runs on tiny models.
CHAT_TEMPLATE = (
    "{% for m in messages %}<bos>{{ m['role'] }}\n{{ m['content'] }}<eos>\n{% endfor %}"
    "{% if add_generation_prompt %}<bos>assistant\n{% endif %}"
)

ARCHITECTURES = (
    "llama-causal-lm",
    "gemma-causal-lm",
    "llama-reward",
    "gemma-reward",
    "deberta-v2-reward",
)


def byte_tokenizer(padding_side: str = "right"):
    """A hub-free byte-level tokenizer (256 byte tokens + 4 specials) with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {ch: i for i, ch in enumerate(bytes_to_unicode().values())}
    for tok in SPECIAL_TOKENS:
        vocab[tok] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        padding_side=padding_side,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


DEBERTA_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEBERTA_WORDS = "the a an is of and to you it good bad great awful fine rude nice wrong help answer".split()


def deberta_tokenizer(padding_side: str = "right"):
    """A hub-free ``DebertaV2Tokenizer`` with no chat template: ``[CLS] prompt [SEP] response [SEP]``.

    Its SentencePiece-style unigram vocabulary holds the specials, the word-start
    marker, every printable ASCII character and a few whole words, so any ASCII text
    tokenizes (other characters become ``[UNK]``).
    """
    import string

    from transformers import DebertaV2Tokenizer

    marker = "\u2581"
    chars = [c for c in string.printable if not c.isspace()]
    vocab = (
        [(tok, 0.0) for tok in DEBERTA_SPECIAL_TOKENS]
        + [(marker, -2.0)]
        + [(c, -3.0) for c in chars]
        + [(marker + w, -1.0) for w in DEBERTA_WORDS]
    )
    return DebertaV2Tokenizer(vocab=vocab, padding_side=padding_side)


def tiny_config(architecture: str, vocab_size: int, *, hidden: int = 32, layers: int = 2):
    """The transformers config of a tiny model of ``architecture``."""
    from transformers import DebertaV2Config, GemmaConfig, LlamaConfig

    common = dict(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=2 * hidden,
        pad_token_id=0,
    )
    if architecture.startswith("llama"):
        return LlamaConfig(
            num_key_value_heads=2,
            max_position_embeddings=512,
            bos_token_id=1,
            eos_token_id=2,
            tie_word_embeddings=True,
            **common,
        )
    if architecture.startswith("gemma"):
        return GemmaConfig(
            num_key_value_heads=2,
            head_dim=hidden // 4,
            max_position_embeddings=512,
            bos_token_id=1,
            eos_token_id=2,
            **common,
        )
    if architecture == "deberta-v2-reward":
        return DebertaV2Config(
            max_position_embeddings=512,
            relative_attention=True,
            position_buckets=32,
            pos_att_type=["p2c", "c2p"],
            **common,
        )
    raise ValueError(f"unknown tiny architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")


def tiny_model(architecture: str, tokenizer=None, *, seed: int = 0, hidden: int = 32, layers: int = 2):
    """(model, tokenizer): a randomly initialised tiny model, deterministic per seed.

    ``*-causal-lm`` gives an ``AutoModelForCausalLM``; ``*-reward`` a
    one-output ``AutoModelForSequenceClassification``.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown tiny architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    tokenizer = tokenizer or byte_tokenizer()
    config = tiny_config(architecture, len(tokenizer), hidden=hidden, layers=layers)
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    if architecture.endswith("causal-lm"):
        model = AutoModelForCausalLM.from_config(config)
    else:
        config.num_labels = 1
        model = AutoModelForSequenceClassification.from_config(config)
    model.eval()
    return model, tokenizer

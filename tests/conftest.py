"""Fixtures shared by several test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not fight other jobs for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def float64_decoding_models():
    """(policy, reward model, tokenizer): tiny random Llama models on the byte tokenizer, in float64.

    The decoders' fast paths batch and pad differently from the naive loops; in float32 the rounding
    of that difference flips near-ties between random models' candidates on some CPUs."""
    from sp_prm_lib.decoding import Policy
    from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model

    tok = byte_tokenizer()
    policy_model, _ = tiny_model("llama-causal-lm", tok, seed=1)
    rm_model, _ = tiny_model("llama-reward", tok, seed=2)
    return Policy(policy_model.double(), tok), rm_model.double(), tok

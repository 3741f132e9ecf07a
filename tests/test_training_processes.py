"""Training over several processes (``accelerate launch``): the loss goes through the DDP wrapper
(gradients are synchronised only for outputs of its forward), and grad_accum keeps the global batch."""

import pytest
import torch
import torch.distributed as dist
from training_fixtures import tiny_rm

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.scoring.forward import Packed, forward_rewards
from sp_prm_lib.training.trainer import _through_wrapper, accumulation_steps


def _packed(rm) -> Packed:
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    return Packed(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        position_ids=torch.arange(ids.shape[1]).unsqueeze(0),
        read=torch.tensor([[2, 5]]),
        valid=torch.tensor([[1.0, 1.0]]),
    )


@pytest.fixture
def one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_rewards_go_through_the_ddp_forward(one_process_group, monkeypatch):
    rm = tiny_rm()
    packed = _packed(rm)
    plain = forward_rewards(rm.model, packed)
    ddp = torch.nn.parallel.DistributedDataParallel(rm.model)
    with pytest.raises(AttributeError):
        forward_rewards(ddp, packed)  # what training under accelerate launch did
    calls = []
    original = torch.nn.parallel.DistributedDataParallel.forward
    monkeypatch.setattr(
        torch.nn.parallel.DistributedDataParallel,
        "forward",
        lambda self, *a, **k: calls.append(1) or original(self, *a, **k),
    )
    wrapped = _through_wrapper(ddp, packed)
    assert calls == [1]  # DDP's forward ran: it prepares the gradient all-reduce
    assert torch.allclose(wrapped, plain)
    assert "forward" not in rm.model.__dict__  # the model's own forward is back
    wrapped.sum().backward()
    assert all(p.grad is not None for p in rm.model.score.parameters())


def test_bare_model_is_called_directly():
    rm = tiny_rm()
    packed = _packed(rm)
    assert torch.equal(_through_wrapper(rm.model, packed), forward_rewards(rm.model, packed))


def test_grad_accum_is_the_global_batch():
    assert accumulation_steps(16, 1) == 16
    assert accumulation_steps(16, 8) == 2  # the paper's 2 x 16 = 32 rows per step on 8 GPUs
    with pytest.raises(ConfigError, match="multiple of the 3 training processes"):
        accumulation_steps(16, 3)

"""Multi-process helpers: DDP wrapping that also works for CPU (gloo) models, buffer synchronization."""
import torch
import torch.distributed as dist
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel

__all__ = ["broadcast_buffers", "create_ddp_model"]


def create_ddp_model(model: torch.nn.Module, **kwargs) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when several processes run; CPU models get no ``device_ids``.

    (Detectron2's version always passes ``device_ids=[local_rank]``, which DDP rejects for CPU modules.)
    """
    if comm.get_world_size() == 1:
        return model
    if next(model.parameters()).device.type == "cuda":
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    return DistributedDataParallel(model, **kwargs)


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Copy the main process's buffers (e.g. BatchNorm running statistics) to every process.

    Training runs DDP with ``broadcast_buffers=False``, so each process updates its own running
    statistics; before evaluation every process takes those of the main process, which are also the
    ones its checkpoints hold.
    """
    if comm.get_world_size() == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)

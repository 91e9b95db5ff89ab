"""Multi-process helpers: DDP wrapping that also works for CPU (gloo) models, buffer synchronization."""
import inspect

import torch
import torch.distributed as dist
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel

__all__ = ["broadcast_buffers", "create_ddp_model"]

_SYNC_BUFFERS_ARG = (
    "forward_sync_buffers"
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else "broadcast_buffers"
)


def create_ddp_model(model: torch.nn.Module, *, sync_buffers: bool = True, **kwargs) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when several processes run; CPU models get no ``device_ids``.

    (Detectron2's version always passes ``device_ids=[local_rank]``, which DDP rejects for CPU modules.)
    ``sync_buffers``: broadcast the main process's buffers before every forward pass (DDP's
    ``forward_sync_buffers``; ``broadcast_buffers`` in older torch versions).
    """
    if comm.get_world_size() == 1:
        return model
    if next(model.parameters()).device.type == "cuda":
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    kwargs[_SYNC_BUFFERS_ARG] = sync_buffers
    return DistributedDataParallel(model, **kwargs)


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Copy the main process's buffers (e.g. BatchNorm running statistics) to every process.

    Training runs DDP without buffer synchronization, so each process updates its own running
    statistics; before evaluation every process takes those of the main process, which are also the
    ones its checkpoints hold.
    """
    if comm.get_world_size() == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)

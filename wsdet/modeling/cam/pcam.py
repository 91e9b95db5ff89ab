"""PCAM pooling (Ye et al. 2020): features pooled with weights given by the class probability maps."""

from typing import Optional

import torch

from .pooling import WSDET_POOLING_REGISTRY, GlobalPool

__all__ = ["PCAMPool"]


@WSDET_POOLING_REGISTRY.register()
class PCAMPool(GlobalPool):
    """
    Per class c, with ``s = logit_maps[:, c]`` the map of the head's 1x1 classifier (``w_c^T x_ij + b_c``):
    ``p = sigmoid(s)``, weights ``p_ij / sum p``, pooled feature ``x_c = sum_ij weight_ij x_ij``.
    The head classifies ``x_c`` with the same 1x1 conv (:class:`PooledCAMHead`), so PCAM adds no
    parameter; its heatmap is ``p`` itself.
    """

    per_class = True

    def forward(self, x: torch.Tensor, logit_maps: Optional[torch.Tensor] = None) -> torch.Tensor:
        if logit_maps is None:
            raise ValueError("PCAM pooling needs the class logit maps")
        probs = torch.sigmoid(logit_maps).flatten(2)  # (N, K, HW)
        weights = probs / probs.sum(dim=2, keepdim=True)
        return torch.bmm(weights, x.flatten(2).transpose(1, 2))  # (N, K, C)

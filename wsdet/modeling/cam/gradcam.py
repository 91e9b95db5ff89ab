"""Grad-CAM (Selvaraju et al., ICCV 2017): class maps from the gradients of class scores on a feature."""

import torch
import torch.nn.functional as F

__all__ = ["grad_cam"]


def grad_cam(feature: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """
    Grad-CAM maps ``ReLU(sum_k alpha_k^c A^k)``, ``alpha_k^c = mean_ij d y^c / d A^k_ij``, of each score
    column ``y^c`` on ``feature`` ``A``.

    The scores of an image must depend on that image's feature only (e.g. a network in inference
    mode, whose BatchNorm uses running statistics): the gradient of the batch's summed scores then is
    each image's own. Needs autograd (call it under ``torch.enable_grad()`` in inference).

    Args:
        feature: (N, C, h, w) feature that ``scores`` were computed from.
        scores: (N, K) class scores (logits).

    Returns:
        (N, K, h, w) non-negative maps, detached.
    """
    maps = []
    for c in range(scores.shape[1]):
        (grads,) = torch.autograd.grad(scores[:, c].sum(), feature, retain_graph=c + 1 < scores.shape[1])
        weights = grads.mean(dim=(2, 3), keepdim=True)
        maps.append(F.relu((weights * feature.detach()).sum(dim=1)))
    return torch.stack(maps, dim=1)

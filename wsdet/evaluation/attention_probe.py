"""Does a model trained with attention mining classify a restricted image from what the mask shows, or
from the mask itself? Swap masks and contents between images and see whose labels the scores follow."""

from typing import Dict

import numpy as np
import torch

from .curves import nanmean, roc_auc

__all__ = ["probe_attention_masks"]


def _mean_class_auc(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the lesion classes with both positive and negative images of the ROC AUC."""
    probs, labels = probs.numpy(), labels.numpy() > 0.5
    return nanmean(roc_auc(probs[:, c], labels[:, c]) for c in range(labels.shape[1]))


@torch.no_grad()
def probe_attention_masks(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, seed: int = 0, batch_size: int = 16
) -> Dict[str, float]:
    """
    Mean per-class AUC of ``model``'s image probabilities on five inputs made of ``images`` and the soft
    masks ``T(A)`` its attention mining builds from its heatmaps and ``labels``:

    * ``full``: the images;
    * ``own_mask``: each image under its own mask (the input of the restricted loss in training);
    * ``swapped_vs_content``, ``swapped_vs_mask``: each image's content under another image's mask (a
      random pairing), scored against the content's labels and against the mask's;
    * ``normal_content_vs_mask``: a normal image's content under each image's mask, scored against the
      mask's labels (NaN without a normal image).

    A model that reads the content scores ``swapped_vs_content`` near ``own_mask`` and the last two near
    0.5; one that reads the label off the mask's shape and place scores them well above 0.5.

    Args:
        model: a :class:`wsdet.modeling.cam.WSDetCAMClassifier` with attention mining, in eval mode.
        images: (N, 3, H, W) normalized input tensor (``model.preprocess_image``).
        labels: (N, K) multi-hot image labels.
        seed: of the pairing of masks and contents.
        batch_size: images per forward pass.
    """
    mining = getattr(model, "attention_mining", None)
    if mining is None:
        raise ValueError("the model has no attention mining (WSDET.CAM.ATTENTION_MINING.ENABLED False): "
                         "there is no mask to probe")

    def probs(inputs: torch.Tensor) -> torch.Tensor:
        chunks = [model.head.image_probs(model.classify(inputs[i : i + batch_size]))
                  for i in range(0, len(inputs), batch_size)]
        return torch.cat(chunks).cpu()

    heatmaps = torch.cat([
        model.head(model.backbone(images[i : i + batch_size])[model.in_feature])["heatmaps"]
        for i in range(0, len(images), batch_size)
    ])
    masks = mining.masks(heatmaps, labels, images.shape[-2:])
    generator = torch.Generator().manual_seed(seed)
    pairing = torch.randperm(len(images), generator=generator)
    labels = labels.cpu()
    swapped = probs(masks[pairing] * images)
    result = {
        "full": _mean_class_auc(probs(images), labels),
        "own_mask": _mean_class_auc(probs(masks * images), labels),
        "swapped_vs_content": _mean_class_auc(swapped, labels),
        "swapped_vs_mask": _mean_class_auc(swapped, labels[pairing]),
        "normal_content_vs_mask": float("nan"),
    }
    normal = np.flatnonzero(labels.sum(dim=1).numpy() == 0)
    if len(normal):
        contents = images[torch.as_tensor(normal[np.arange(len(images)) % len(normal)])]
        result["normal_content_vs_mask"] = _mean_class_auc(probs(masks * contents), labels)
    return result

"""
A CAM head as an image-level branch of a Detectron2 detector, on one of its backbone features.

Registered: ``GeneralizedRCNNWithImageBranch`` (Detectron2's R-CNN; trains on box-annotated images
only) and ``WSDetMILRCNNWithImageBranch`` (the joint strong/weak MIL R-CNN; the branch learns from the
image labels of strong and weak images). Config: ``MODEL.META_ARCHITECTURE`` one of these,
``WSDET.CAM.IN_FEATURE`` (e.g. "p4" of an FPN), ``WSDET.CAM.HEAD`` / ``POOLING`` / ``SINGLE_LABEL``,
``WSDET.CAM.IMAGE_BRANCH.LOSS_WEIGHT``; see ``configs/bus_joint_with_cam.yaml``.

To add the branch to your own meta-architecture (any subclass of ``GeneralizedRCNN`` whose forward
batches its inputs with ``preprocess_image`` and runs ``self.backbone`` once)::

    from detectron2.modeling import META_ARCH_REGISTRY
    from wsdet.modeling.cam import ImageBranchMixin

    @META_ARCH_REGISTRY.register()
    class MyRCNNWithImageBranch(ImageBranchMixin, MyRCNN):
        pass

then set ``MODEL.META_ARCHITECTURE: "MyRCNNWithImageBranch"`` and the ``WSDET.CAM`` keys above
(``add_wsdet_config(cfg)`` adds them). Existing detector checkpoints load as they are (the branch's
weights are new keys under ``image_branch.``).
"""

from typing import Dict, List, Optional

import torch

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.structures import ImageList

from ..mil_loss import stack_image_labels
from ..mil_rcnn import WSDetMILRCNN
from .heads import CAMHead, build_cam_head
from .postprocessing import resize_heatmaps

__all__ = ["ImageBranchMixin", "GeneralizedRCNNWithImageBranch", "WSDetMILRCNNWithImageBranch"]


class ImageBranchMixin:
    """
    Adds a CAM head on backbone feature ``image_feature`` to a GeneralizedRCNN-like detector, sharing
    its single backbone pass: the batch seen by ``preprocess_image`` and the backbone's output are kept
    (a forward hook) for the duration of ``forward``, whatever order the detector batches its images in.

    Training: the detector's losses plus ``loss_weight`` x the head's ``loss_cam_*`` losses on the
    ``image_labels`` of every image of the batch (the same keys at every step). Inference: each output
    dict also gets ``image_probs`` (K,) of the branch, replacing the detector's own, and ``heatmaps``
    (K, height, width) at the original resolution.
    """

    @configurable
    def __init__(
        self, *, image_branch: CAMHead, image_feature: str, branch_loss_weight: float = 1.0, **kwargs
    ):
        """
        Args:
            image_branch: the CAM head.
            image_feature: name of the backbone feature it reads.
            branch_loss_weight: weight of its losses.
            kwargs: arguments of the detector.
        """
        super().__init__(**kwargs)
        self.image_branch = image_branch
        self.image_feature = image_feature
        self.branch_loss_weight = branch_loss_weight
        self._branch_batch: Optional[List[Dict[str, torch.Tensor]]] = None
        self._branch_images: Optional[ImageList] = None
        self._branch_features: Optional[torch.Tensor] = None
        self.backbone.register_forward_hook(self._keep_branch_features)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        shapes = ret["backbone"].output_shape()
        feature = cfg.WSDET.CAM.IN_FEATURE
        if feature not in shapes:
            raise ValueError(f"WSDET.CAM.IN_FEATURE {feature!r} is not a backbone output: {list(shapes)}")
        ret.update(
            image_branch=build_cam_head(cfg, shapes[feature]),
            image_feature=feature,
            branch_loss_weight=cfg.WSDET.CAM.IMAGE_BRANCH.LOSS_WEIGHT,
        )
        return ret

    def _keep_branch_features(self, module, inputs, outputs) -> None:
        self._branch_features = outputs[self.image_feature]

    def preprocess_image(self, batched_inputs: List[Dict[str, torch.Tensor]]) -> ImageList:
        images = super().preprocess_image(batched_inputs)
        self._branch_batch, self._branch_images = batched_inputs, images
        return images

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        results = super().forward(batched_inputs)
        batch, images, features = self._branch_batch, self._branch_images, self._branch_features
        self._branch_batch = self._branch_images = self._branch_features = None
        outputs = self.image_branch(features)
        if self.training:
            labels = stack_image_labels(batch, features.device)
            losses = self.image_branch.losses(outputs, labels)
            results.update({k: self.branch_loss_weight * v for k, v in losses.items()})
            return results
        probs = self.image_branch.image_probs(outputs["logits"])
        for result, x, maps, p, size in zip(results, batch, outputs["heatmaps"], probs, images.image_sizes):
            result["image_probs"] = p
            output_size = (x.get("height", size[0]), x.get("width", size[1]))
            result["heatmaps"] = resize_heatmaps(maps, images.tensor.shape[-2:], size, output_size)
        return results


@META_ARCH_REGISTRY.register()
class GeneralizedRCNNWithImageBranch(ImageBranchMixin, GeneralizedRCNN):
    """Detectron2's :class:`GeneralizedRCNN` with a CAM image branch (:class:`ImageBranchMixin`)."""


@META_ARCH_REGISTRY.register()
class WSDetMILRCNNWithImageBranch(ImageBranchMixin, WSDetMILRCNN):
    """The joint strong/weak :class:`WSDetMILRCNN` with a CAM image branch (:class:`ImageBranchMixin`)."""

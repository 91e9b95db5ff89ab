"""ROI heads that add the weak-image MIL loss and image-level probabilities to Detectron2's heads."""
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from detectron2.config import configurable
from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY, Res5ROIHeads, StandardROIHeads
from detectron2.structures import ImageList, Instances

from .mil_loss import MoISelector, image_label_targets, mil_loss, regions_with_gradient

__all__ = ["MILROIHeadsMixin", "MILROIHeads", "MILRes5ROIHeads"]

# Normalizations whose training output depends on the other regions of the batch.
_BATCH_STATISTICS_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class MILROIHeadsMixin:
    """
    MIL logic shared by the FPN/C5 (:class:`StandardROIHeads`) and C4 (:class:`Res5ROIHeads`) heads.

    In training, the batch holds box-annotated ("strong") images first, then image-labelled ("weak")
    ones. Strong images get Detectron2's own sampling and box losses; the proposals of weak images go
    through the same box head and only feed ``loss_mil`` (see :meth:`_mil_loss`). Every loss key is
    always returned: a loss whose images are absent from the batch is ``0 * (sum of the outputs)`` of
    the box predictor, so that each process of a DDP run touches the same parameters every step.
    A subclass provides :meth:`_box_predictions`.
    """

    @configurable
    def __init__(
        self,
        *,
        moi_selector: MoISelector,
        mil_class_weights: List[float],
        normal_regions: int = 0,
        **kwargs,
    ):
        """
        Args:
            moi_selector: how a weak image's mass of interest is chosen.
            mil_class_weights: K + 1 CE weights of weak images per target (lesion classes, then
                normal; a normal weight of 0 ignores normal images).
            normal_regions: regions of a normal weak image pushed to background, its most abnormal
                ones (0 = all), see :func:`mil_loss`.
            kwargs: arguments of the Detectron2 ROI heads class.
        """
        super().__init__(**kwargs)
        if moi_selector.num_classes != self.num_classes:
            raise ValueError(f"The MoI selector has {moi_selector.num_classes} classes, the heads {self.num_classes}.")
        if len(mil_class_weights) != self.num_classes + 1:
            raise ValueError(
                f"Expected {self.num_classes} MIL class weights (WSDET.MIL.CLASS_WEIGHTS), one per lesion class."
            )
        if normal_regions < 0:
            raise ValueError(f"WSDET.MIL.NORMAL_REGIONS must be >= 0, got {normal_regions}.")
        self.moi_selector = moi_selector
        self.normal_regions = normal_regions
        self.register_buffer(
            "mil_class_weights", torch.tensor(mil_class_weights, dtype=torch.float32), False
        )

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        if cfg.MODEL.MASK_ON or cfg.MODEL.KEYPOINT_ON:
            raise ValueError(f"{cls.__name__} supports boxes only (MODEL.MASK_ON/KEYPOINT_ON off).")
        mil = cfg.WSDET.MIL
        num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
        # "auto" weights depend on the training data: the trainer sets them (set_mil_class_weights)
        given = mil.CLASS_WEIGHTS if isinstance(mil.CLASS_WEIGHTS, (list, tuple)) else None
        if mil.CLASS_WEIGHTS not in (None, "auto") and given is None:
            raise ValueError(f"WSDET.MIL.CLASS_WEIGHTS must be a list, None or 'auto', got {mil.CLASS_WEIGHTS!r}")
        lesion_weights = [float(w) for w in given] if given else [1.0] * num_classes
        ret.update(
            moi_selector=MoISelector(mil.MOI, mil.MALIGNANT_CLASS, num_classes, mil.SELECT_ON),
            mil_class_weights=lesion_weights + [mil.NORMAL_WEIGHT],
            normal_regions=mil.NORMAL_REGIONS,
        )
        return ret

    def set_mil_class_weights(self, lesion_weights: List[float]) -> None:
        """Set the CE weights of weak lesion images, one per lesion class (the normal weight is kept)."""
        if len(lesion_weights) != self.num_classes:
            raise ValueError(f"Expected {self.num_classes} MIL class weights, got {lesion_weights}.")
        self.mil_class_weights[: self.num_classes] = torch.as_tensor(lesion_weights, dtype=torch.float32)

    def _box_predictions(
        self, features: Dict[str, torch.Tensor], proposals: List[Instances]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(class logits, box deltas) of the box predictor for the proposal boxes of all images."""
        raise NotImplementedError

    def forward(
        self,
        images: ImageList,
        features: Dict[str, torch.Tensor],
        proposals: List[Instances],
        targets: Optional[List[Instances]] = None,
        weak_labels: Optional[torch.Tensor] = None,
    ) -> Tuple[List[Instances], Dict[str, torch.Tensor]]:
        """
        Args:
            images, features: as in :meth:`ROIHeads.forward`, for strong then weak images.
            proposals: RPN proposals of every image, strong images first.
            targets: ground truth of the first ``len(targets)`` (strong) images; training only.
            weak_labels: (W, K) multi-hot labels of the remaining W (weak) images; training only.

        Returns:
            As :meth:`ROIHeads.forward`. Training losses: ``loss_cls``, ``loss_box_reg``, ``loss_mil``.
        """
        if not self.training:
            return super().forward(images, features, proposals)
        targets = targets or []
        num_strong = len(targets)
        strong = self.label_and_sample_proposals(proposals[:num_strong], targets) if targets else []
        weak = proposals[num_strong:]
        if len(weak) != (0 if weak_labels is None else len(weak_labels)):
            raise ValueError("weak_labels must give one label vector per weak image.")

        losses: Dict[str, torch.Tensor] = {}
        outputs: List[torch.Tensor] = []  # box predictor outputs of this step, for the losses left at 0
        if strong:
            predictions = self._box_predictions(features, strong + [p[:0] for p in weak])
            losses.update(self.box_predictor.losses(predictions, strong))
            outputs.extend(predictions)
        if weak:
            weak_targets = image_label_targets(weak_labels)
            losses["loss_mil"], predictions = self._mil_loss(features, strong, weak, weak_targets)
            outputs.extend(predictions)
        unused = 0.0 * sum(x.sum() for x in outputs)
        for name in ("loss_cls", "loss_box_reg", "loss_mil"):
            losses.setdefault(name, unused)
        return [], losses

    def _mil_loss(
        self,
        features: Dict[str, torch.Tensor],
        strong: List[Instances],
        proposals: List[Instances],
        targets: torch.Tensor,
    ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """
        ``loss_mil`` of the weak images (``proposals``, after the ``strong`` images in ``features``)
        and the box predictor outputs it was computed from. All proposals are scored without a graph
        to choose the regions, then only those the loss has a gradient through
        (:func:`regions_with_gradient`: one per lesion image) go through the box head again with one:
        the same loss and gradients as one pass with a graph over every proposal, without the backward
        pass and stored activations of the others (up to 2000 per weak image). A box head whose
        normalization uses batch statistics (BatchNorm) gets that one pass, since its outputs depend on
        which regions share the batch.
        """
        sizes = [len(p) for p in proposals]
        no_strong = [p[:0] for p in strong]  # the box pooler takes a box list per image of the batch
        selector, weights, normal = self.moi_selector, self.mil_class_weights, self.normal_regions
        if any(isinstance(m, _BATCH_STATISTICS_NORMS) for m in self.modules()):
            scores, deltas = self._box_predictions(features, no_strong + proposals)
            return mil_loss(scores.split(sizes), targets, weights, selector, normal), (scores, deltas)
        with torch.no_grad():
            scores, _ = self._box_predictions(features, no_strong + proposals)
        keep = regions_with_gradient(scores.split(sizes), targets, weights, selector, normal)
        scores, deltas = self._box_predictions(features, no_strong + [p[k] for p, k in zip(proposals, keep)])
        loss = mil_loss(scores.split([len(k) for k in keep]), targets, weights, selector, normal)
        return loss, (scores, deltas)

    def inference_with_image_probs(
        self, features: Dict[str, torch.Tensor], proposals: List[Instances]
    ) -> Tuple[List[Instances], torch.Tensor]:
        """
        Detections and image-level probabilities from one box-head pass over the proposals.

        Returns:
            list[Instances]: the detections of each image, as :meth:`forward` in inference.
            Tensor: (N, K) probabilities of the images, see :meth:`MoISelector.image_probs`.
        """
        assert not self.training
        predictions = self._box_predictions(features, proposals)
        instances, _ = self.box_predictor.inference(predictions, proposals)
        image_probs = self.moi_selector.image_probs(predictions[0].split([len(p) for p in proposals]))
        return instances, image_probs


@ROI_HEADS_REGISTRY.register()
class MILROIHeads(MILROIHeadsMixin, StandardROIHeads):
    """:class:`StandardROIHeads` (FPN, C5 box heads) with the weak-image MIL loss."""

    def _box_predictions(self, features, proposals):
        features = [features[f] for f in self.box_in_features]
        box_features = self.box_pooler(features, [p.proposal_boxes for p in proposals])
        return self.box_predictor(self.box_head(box_features))


@ROI_HEADS_REGISTRY.register()
class MILRes5ROIHeads(MILROIHeadsMixin, Res5ROIHeads):
    """:class:`Res5ROIHeads` (C4 models) with the weak-image MIL loss."""

    def _box_predictions(self, features, proposals):
        features = [features[f] for f in self.in_features]
        box_features = self._shared_roi_transform(features, [p.proposal_boxes for p in proposals])
        return self.box_predictor(box_features.mean(dim=[2, 3]))

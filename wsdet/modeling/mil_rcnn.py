"""Faster R-CNN trained jointly on box-annotated and image-labelled images (Shin et al., TMI 2019)."""
from typing import Dict, List, Optional, Tuple

import torch

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.modeling.proposal_generator import RPN
from detectron2.modeling.proposal_generator.proposal_utils import find_top_rpn_proposals
from detectron2.structures import ImageList, Instances
from detectron2.utils.events import get_event_storage

from .alpha_schedule import AlphaSchedule
from .mil_loss import stack_image_labels

__all__ = ["WSDetMILRCNN"]


def _split(
    images: ImageList, features: Dict[str, torch.Tensor], start: int, end: int
) -> Tuple[ImageList, Dict[str, torch.Tensor]]:
    """Images ``start:end`` of a batch and their features."""
    sub_images = ImageList(images.tensor[start:end], images.image_sizes[start:end])
    return sub_images, {k: v[start:end] for k, v in features.items()}


@META_ARCH_REGISTRY.register()
class WSDetMILRCNN(GeneralizedRCNN):
    """
    Generalized R-CNN whose training batch mixes strong images (``supervision == "strong"``, with
    ``instances``) and weak images (``supervision == "weak"``, ``image_labels`` only).

    Loss: L = L_rpn + L_fast_rcnn (strong images, as Detectron2) + alpha(t) * loss_mil (weak images).
    All images go through the backbone in one pass, strong first, so that BatchNorm normalizes both
    sets with the same statistics and its running averages follow the mixed training distribution;
    the features are then split per set. Weak images get no RPN or box loss: their RPN proposals
    (``weak_post_nms_topk`` after NMS) only feed the MIL loss of the ROI heads (:class:`MILROIHeads`).

    DDP: every loss key is present at each step. When a batch has no strong image the RPN and box
    losses are ``0 * (sum of the outputs)`` of the RPN head and box predictor on the weak images (and
    ``loss_mil`` likewise when it has no weak image), so every process runs the same modules and all
    parameters receive a (possibly zero) gradient.

    Inference adds ``image_probs`` (K,) to each output: the softmax probabilities, background dropped,
    of the image's label-free mass of interest among the inference proposals
    (:func:`wsdet.modeling.mil_loss.moi_probs`).
    """

    @configurable
    def __init__(self, *, alpha_schedule: AlphaSchedule, weak_post_nms_topk: int, **kwargs):
        """
        Args:
            alpha_schedule: weight of ``loss_mil`` as a function of the iteration.
            weak_post_nms_topk: RPN proposals kept after NMS for each weak image in training.
            kwargs: arguments of :class:`GeneralizedRCNN`; ``proposal_generator`` must be an RPN
                and ``roi_heads`` a :class:`MILROIHeadsMixin`.
        """
        super().__init__(**kwargs)
        if not isinstance(self.proposal_generator, RPN):
            raise ValueError(f"{type(self).__name__} needs an RPN proposal generator.")
        self.alpha_schedule = alpha_schedule
        self.weak_post_nms_topk = weak_post_nms_topk

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        ret["alpha_schedule"] = AlphaSchedule(cfg)
        ret["weak_post_nms_topk"] = cfg.WSDET.MIL.POST_NMS_TOPK_TRAIN
        return ret

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        """
        Args:
            batched_inputs: see ``docs/DATA_FORMAT_INTERNAL.md``.

        Returns:
            In training, the losses ``loss_rpn_cls``, ``loss_rpn_loc``, ``loss_cls``, ``loss_box_reg``
            and ``loss_mil`` (already multiplied by alpha). In inference, see :meth:`inference`.
        """
        if not self.training:
            return self.inference(batched_inputs)
        strong = [x for x in batched_inputs if x["supervision"] == "strong"]
        weak = [x for x in batched_inputs if x["supervision"] == "weak"]
        images = self.preprocess_image(strong + weak)
        features = self.backbone(images.tensor)
        strong_images, strong_features = _split(images, features, 0, len(strong))
        weak_images, weak_features = _split(images, features, len(strong), len(images))

        gt_instances = [x["instances"].to(self.device) for x in strong]
        proposals, losses = [], {}
        if strong:
            proposals, losses = self.proposal_generator(
                strong_images, strong_features, gt_instances
            )
        weak_labels = None
        if weak:
            weak_proposals, rpn_outputs = self._weak_proposals(weak_images, weak_features)
            proposals = proposals + weak_proposals
            weak_labels = stack_image_labels(weak, self.device)
            if not strong:
                unused = 0.0 * sum(x.sum() for x in rpn_outputs)
                losses = {"loss_rpn_cls": unused, "loss_rpn_loc": unused}
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances, weak_labels)
        losses.update(detector_losses)

        storage = get_event_storage()
        alpha = self.alpha_schedule(storage.iter)
        storage.put_scalar("mil/alpha", alpha, smoothing_hint=False)
        losses["loss_mil"] = alpha * losses["loss_mil"]
        if strong and self.vis_period > 0 and storage.iter % self.vis_period == 0:
            self.visualize_training(strong, proposals[: len(strong)])
        return losses

    def _weak_proposals(
        self, images: ImageList, features: Dict[str, torch.Tensor]
    ) -> Tuple[List[Instances], List[torch.Tensor]]:
        """
        RPN proposals of weak images, without RPN loss: the RPN's training-time decoding with
        ``weak_post_nms_topk`` proposals kept after NMS.

        Returns:
            list[Instances]: proposals of each image (``proposal_boxes``, ``objectness_logits``).
            list[Tensor]: raw outputs of the RPN head (objectness logits, then anchor deltas).
        """
        rpn = self.proposal_generator
        features = [features[f] for f in rpn.in_features]
        anchors = rpn.anchor_generator(features)
        logits, deltas = rpn.rpn_head(features)
        box_dim = rpn.anchor_generator.box_dim
        flat_logits = [x.permute(0, 2, 3, 1).flatten(1) for x in logits]
        flat_deltas = [
            x.view(x.shape[0], -1, box_dim, *x.shape[-2:]).permute(0, 3, 4, 1, 2).flatten(1, -2)
            for x in deltas
        ]
        with torch.no_grad():
            proposals = find_top_rpn_proposals(
                rpn._decode_proposals(anchors, flat_deltas),
                flat_logits,
                images.image_sizes,
                rpn.nms_thresh,
                rpn.pre_nms_topk[True],
                self.weak_post_nms_topk,
                rpn.min_box_size,
                True,
            )
        return proposals, logits + deltas

    def inference(
        self,
        batched_inputs: List[Dict[str, torch.Tensor]],
        detected_instances: Optional[List[Instances]] = None,
        do_postprocess: bool = True,
    ):
        """
        As :meth:`GeneralizedRCNN.inference`; with ``do_postprocess`` and no ``detected_instances``,
        each output dict also holds ``image_probs`` (K,), even when no detection survives.
        """
        if detected_instances is not None or not do_postprocess:
            return super().inference(batched_inputs, detected_instances, do_postprocess)
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        proposals, _ = self.proposal_generator(images, features, None)
        results, image_probs = self.roi_heads.inference_with_image_probs(features, proposals)
        outputs = self._postprocess(results, batched_inputs, images.image_sizes)
        for output, probs in zip(outputs, image_probs):
            output["image_probs"] = probs
        return outputs

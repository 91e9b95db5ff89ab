"""RPN for batches that mix box-annotated and image-labelled images."""
from typing import Dict, List, Optional, Tuple

import torch

from detectron2.config import configurable
from detectron2.modeling.proposal_generator import PROPOSAL_GENERATOR_REGISTRY, RPN
from detectron2.modeling.proposal_generator.proposal_utils import find_top_rpn_proposals
from detectron2.structures import Boxes, ImageList, Instances, pairwise_ioa

__all__ = ["MILRPN"]


@PROPOSAL_GENERATOR_REGISTRY.register()
class MILRPN(RPN):
    """
    Detectron2's :class:`RPN` whose training batch may end with image-labelled ("weak") images: with
    ``gt_instances`` for the first ``len(gt_instances)`` images only, those get the usual anchor
    labelling, losses and ``POST_NMS_TOPK_TRAIN`` proposals, and the remaining images get proposals
    without loss, ``weak_post_nms_topk`` of them, which feed the MIL loss of the ROI heads. One head
    pass covers the whole batch. With no box-annotated image the losses are ``0 * (sum of the head's
    outputs)``, so that every process of a DDP run touches the same parameters. With ground truth for
    every image, and at inference, it is exactly :class:`RPN`.

    Box-annotated images may come with ``background_boxes``, regions known to hold no lesion (the
    official data of Shin et al.): anchors lying at least ``background_overlap`` inside one are
    negatives (unless positive), and with ``background_negatives_only`` the image's other anchors are
    not negatives (the official labelling); an image without background boxes is labelled as usual.
    """

    @configurable
    def __init__(
        self,
        *,
        weak_post_nms_topk: int,
        background_overlap: float = 0.7,
        background_negatives_only: bool = False,
        **kwargs,
    ):
        """
        Args:
            weak_post_nms_topk: proposals kept after NMS for each image-labelled image in training.
            background_overlap: fraction of an anchor's area inside a background box that makes it a
                negative.
            background_negatives_only: on images with background boxes, only those anchors are negatives.
            kwargs: arguments of :class:`RPN`.
        """
        super().__init__(**kwargs)
        if not 0 < background_overlap <= 1:
            raise ValueError(f"WSDET.RPN.BACKGROUND_OVERLAP must be in (0, 1], got {background_overlap}")
        self.weak_post_nms_topk = weak_post_nms_topk
        self.background_overlap = background_overlap
        self.background_negatives_only = background_negatives_only
        self._num_box_images: Optional[int] = None  # set for the duration of a training forward
        self._background_boxes: Optional[List[Optional[Boxes]]] = None  # likewise

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        ret["weak_post_nms_topk"] = cfg.WSDET.MIL.POST_NMS_TOPK_TRAIN
        ret["background_overlap"] = cfg.WSDET.RPN.BACKGROUND_OVERLAP
        ret["background_negatives_only"] = cfg.WSDET.RPN.BACKGROUND_NEGATIVES_ONLY
        return ret

    def forward(
        self,
        images: ImageList,
        features: Dict[str, torch.Tensor],
        gt_instances: Optional[List[Instances]] = None,
        background_boxes: Optional[List[Optional[Boxes]]] = None,
    ):
        """
        As :meth:`RPN.forward`; in training ``gt_instances`` holds the ground truth of the first
        images of the batch (possibly none), the other images being image-labelled, and
        ``background_boxes`` (optional) the background boxes of each of those first images (None: none).
        """
        if self.training and gt_instances is not None and len(gt_instances) > len(images):
            raise ValueError(f"{len(gt_instances)} ground-truth entries for {len(images)} images")
        self._num_box_images = len(gt_instances) if self.training and gt_instances is not None else None
        self._background_boxes = background_boxes if self.training else None
        try:
            return super().forward(images, features, gt_instances)
        finally:
            self._num_box_images = self._background_boxes = None

    def label_and_sample_anchors(
        self, anchors: List[Boxes], gt_instances: List[Instances]
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """:meth:`RPN.label_and_sample_anchors`, with the anchors inside background boxes as negatives."""
        background = self._background_boxes
        if not background or all(b is None or len(b) == 0 for b in background):
            return super().label_and_sample_anchors(anchors, gt_instances)
        all_anchors = Boxes.cat(anchors)
        inside = [
            None if b is None or len(b) == 0
            else pairwise_ioa(b.to(all_anchors.device), all_anchors).amax(dim=0) >= self.background_overlap
            for b in background
        ]
        matcher = self.anchor_matcher
        self.anchor_matcher = _BackgroundNegatives(matcher, inside, self.background_negatives_only)
        try:
            return super().label_and_sample_anchors(anchors, gt_instances)
        finally:
            self.anchor_matcher = matcher

    def losses(
        self,
        anchors: List[Boxes],
        pred_objectness_logits: List[torch.Tensor],
        gt_labels: List[torch.Tensor],
        pred_anchor_deltas: List[torch.Tensor],
        gt_boxes: List[torch.Tensor],
    ) -> Dict[str, torch.Tensor]:
        """:meth:`RPN.losses` of the box-annotated images (the first ``len(gt_labels)`` of the batch)."""
        n = len(gt_labels)
        if n == 0:
            unused = 0.0 * sum(x.sum() for x in pred_objectness_logits + pred_anchor_deltas)
            return {"loss_rpn_cls": unused, "loss_rpn_loc": unused}
        return super().losses(
            anchors,
            [x[:n] for x in pred_objectness_logits],
            gt_labels,
            [x[:n] for x in pred_anchor_deltas],
            gt_boxes,
        )

    def predict_proposals(
        self,
        anchors: List[Boxes],
        pred_objectness_logits: List[torch.Tensor],
        pred_anchor_deltas: List[torch.Tensor],
        image_sizes: List[Tuple[int, int]],
    ) -> List[Instances]:
        """:meth:`RPN.predict_proposals`, with ``weak_post_nms_topk`` proposals for image-labelled images."""
        n = self._num_box_images
        if n is None or n == len(image_sizes):
            return super().predict_proposals(anchors, pred_objectness_logits, pred_anchor_deltas, image_sizes)
        strong = []
        if n > 0:
            strong = super().predict_proposals(
                anchors, [x[:n] for x in pred_objectness_logits], [x[:n] for x in pred_anchor_deltas], image_sizes[:n]
            )
        with torch.no_grad():
            weak = find_top_rpn_proposals(
                self._decode_proposals(anchors, [x[n:] for x in pred_anchor_deltas]),
                [x[n:] for x in pred_objectness_logits],
                image_sizes[n:],
                self.nms_thresh,
                self.pre_nms_topk[True],
                self.weak_post_nms_topk,
                self.min_box_size,
                True,
            )
        return strong + weak


class _BackgroundNegatives:
    """Wraps the RPN's anchor matcher, called once per image in order: the anchors in the image's
    background regions become negatives (0) unless positive (1), before the labels are subsampled."""

    def __init__(self, matcher, inside: List[Optional[torch.Tensor]], only: bool):
        self.matcher = matcher
        self.inside = iter(inside)
        self.only = only

    def __call__(self, match_quality_matrix: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        matches, labels = self.matcher(match_quality_matrix)
        inside = next(self.inside)
        if inside is not None:
            if self.only:
                labels[labels == 0] = -1
            labels[inside.to(labels.device) & (labels != 1)] = 0
        return matches, labels

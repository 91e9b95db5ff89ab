"""Faster R-CNN trained jointly on box-annotated and image-labelled images (Shin et al., TMI 2019)."""
from typing import Dict, List, Optional

import torch

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.structures import Instances
from detectron2.utils.events import get_event_storage

from .mil_loss import stack_image_labels
from .mil_rpn import MILRPN
from .schedules import IterationSchedule, build_mil_alpha_schedule

__all__ = ["WSDetMILRCNN"]


@META_ARCH_REGISTRY.register()
class WSDetMILRCNN(GeneralizedRCNN):
    """
    Generalized R-CNN whose training batch mixes strong images (``supervision == "strong"``, with
    ``instances``) and weak images (``supervision == "weak"``, ``image_labels`` only).

    Loss: L = L_rpn + L_fast_rcnn (strong images, as Detectron2) + alpha(t) * loss_mil (weak images).
    All images go through the backbone in one pass, strong first, so that BatchNorm normalizes both
    sets with the same statistics and its running averages follow the mixed training distribution.
    The proposal generator (:class:`MILRPN`) gets the ground truth of the strong images only: weak
    images get no RPN or box loss, and their proposals only feed the MIL loss of the ROI heads
    (:class:`MILROIHeads`). Every loss key is present at each step (zero-weighted when its images are
    absent from the batch), so that every process of a DDP run touches the same parameters.

    Inference adds ``image_probs`` (K,) to each output: the softmax probabilities, background dropped,
    of the image's label-free mass of interest among the inference proposals
    (:meth:`wsdet.modeling.MoISelector.image_probs`).
    """

    @configurable
    def __init__(self, *, alpha_schedule: IterationSchedule, **kwargs):
        """
        Args:
            alpha_schedule: weight of ``loss_mil`` as a function of the iteration.
            kwargs: arguments of :class:`GeneralizedRCNN`; ``proposal_generator`` must be a
                :class:`MILRPN` and ``roi_heads`` a :class:`MILROIHeadsMixin`.
        """
        super().__init__(**kwargs)
        if not isinstance(self.proposal_generator, MILRPN):
            raise ValueError(
                f"{type(self).__name__} needs MODEL.PROPOSAL_GENERATOR.NAME 'MILRPN', got "
                f"{type(self.proposal_generator).__name__}."
            )
        self.alpha_schedule = alpha_schedule

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        alpha = cfg.WSDET.MIL.ALPHA
        ret["alpha_schedule"] = build_mil_alpha_schedule(
            alpha.SCHEDULE, alpha.VALUE, alpha.PERIOD, alpha.RAMP_ITERS, cfg.SOLVER.MAX_ITER
        )
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
        gt_instances = [x["instances"].to(self.device) for x in strong]
        background = [x.get("background_boxes") for x in strong]
        proposals, losses = self.proposal_generator(images, features, gt_instances, background)
        weak_labels = stack_image_labels(weak, self.device) if weak else None
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances, weak_labels)
        losses.update(detector_losses)

        storage = get_event_storage()
        alpha = self.alpha_schedule(storage.iter)
        storage.put_scalar("mil/alpha", alpha, smoothing_hint=False)
        losses["loss_mil"] = alpha * losses["loss_mil"]
        if strong and self.vis_period > 0 and storage.iter % self.vis_period == 0:
            self.visualize_training(strong, proposals[: len(strong)])
        return losses

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

"""Weakly supervised classifier that localizes: Detectron2 backbone + CAM head, trained on image labels."""

from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from detectron2.config import configurable
from detectron2.layers import move_device_like
from detectron2.modeling import META_ARCH_REGISTRY, Backbone, build_backbone
from detectron2.structures import ImageList
from detectron2.utils.events import get_event_storage

from ..mil_loss import stack_image_labels
from .attention_mining import AttentionMining, running_statistics_kept
from .gradcam import grad_cam
from .heads import CAMHead, build_cam_head
from .heatmap_to_boxes import HeatmapBoxExtractor
from .mask_decoder import MaskDecoder
from .postprocessing import resize_heatmaps

__all__ = ["WSDetCAMClassifier"]

# Values of WSDET.CAM.HEATMAPS.
HEATMAP_SOURCES = ("head", "gradcam")


@META_ARCH_REGISTRY.register()
class WSDetCAMClassifier(nn.Module):
    """
    Backbone -> CAM head (``WSDET.CAM.HEAD``) on the feature ``WSDET.CAM.IN_FEATURE``. Trains on the
    ``image_labels`` of every image (strong images' boxes are not used, except their masks by the
    optional mask decoder). Options of the positive-CAM framework (Lu & Tong 2019), usable with any head:

    * attention mining (stage 2): losses ``(1 - lambda) x`` the head's losses and
      ``loss_cam_am = lambda L_am`` (:class:`AttentionMining`);
    * mask decoder (stage 3): ``loss_cam_mask`` on the images with masks (:class:`MaskDecoder`); its
      mask probabilities replace the head's heatmaps in inference.

    Inference output per image: ``image_probs`` (K,), ``heatmaps`` (K, height, width) at the original
    resolution, and ``instances`` extracted from them (:class:`HeatmapBoxExtractor`). The heatmaps are
    the head's (the decoder's when there is one), or, with ``heatmaps="gradcam"``, the Grad-CAM maps of
    the lesion classes' image logits on a backbone feature (:meth:`grad_cam`; any head).
    """

    @configurable
    def __init__(
        self,
        *,
        backbone: Backbone,
        head: CAMHead,
        in_feature: str,
        box_extractor: HeatmapBoxExtractor,
        pixel_mean: List[float],
        pixel_std: List[float],
        attention_mining: Optional[AttentionMining] = None,
        mask_decoder: Optional[MaskDecoder] = None,
        heatmaps: str = "head",
        gradcam_feature: Optional[str] = None,
    ):
        """
        Args:
            backbone: the encoder.
            head: the CAM head on feature ``in_feature``.
            box_extractor: turns heatmaps into detections in inference.
            pixel_mean, pixel_std: input normalization.
            attention_mining: stage-2 attention mining, or None.
            mask_decoder: stage-3 decoder on the backbone features, or None.
            heatmaps: "head" or "gradcam", the heatmaps of inference.
            gradcam_feature: backbone feature explained by Grad-CAM (default: ``in_feature``).
        """
        super().__init__()
        if heatmaps not in HEATMAP_SOURCES:
            raise ValueError(f"Unknown WSDET.CAM.HEATMAPS {heatmaps!r}; expected one of {HEATMAP_SOURCES}")
        self.backbone = backbone
        self.head = head
        self.in_feature = in_feature
        self.box_extractor = box_extractor
        self.attention_mining = attention_mining
        self.mask_decoder = mask_decoder
        self.heatmaps = heatmaps
        self.gradcam_feature = gradcam_feature or in_feature
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        cam = cfg.WSDET.CAM
        for key, feature in (("IN_FEATURE", cam.IN_FEATURE), ("GRADCAM.IN_FEATURE", cam.GRADCAM.IN_FEATURE)):
            if feature and feature not in shapes:
                raise ValueError(f"WSDET.CAM.{key} {feature!r} is not a backbone output: {list(shapes)}")
        return {
            "backbone": backbone,
            "head": build_cam_head(cfg, shapes[cam.IN_FEATURE]),
            "in_feature": cam.IN_FEATURE,
            "box_extractor": HeatmapBoxExtractor(cfg),
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "attention_mining": AttentionMining(cfg) if cam.ATTENTION_MINING.ENABLED else None,
            "mask_decoder": MaskDecoder(cfg, shapes) if cam.MASK_DECODER.ENABLED else None,
            "heatmaps": cam.HEATMAPS,
            "gradcam_feature": cam.GRADCAM.IN_FEATURE or None,
        }

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess_image(self, batched_inputs: List[Dict[str, torch.Tensor]]) -> ImageList:
        """Normalize, pad and batch the input images."""
        images = [
            (move_device_like(x["image"], self.pixel_mean) - self.pixel_mean) / self.pixel_std
            for x in batched_inputs
        ]
        return ImageList.from_tensors(
            images, self.backbone.size_divisibility, padding_constraints=self.backbone.padding_constraints
        )

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """The head's image logits on a normalized input tensor."""
        return self.head(self.backbone(images)[self.in_feature])["logits"]

    def grad_cam(self, images: torch.Tensor, feature: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        Grad-CAM of the model on a normalized input tensor, in inference mode (:func:`grad_cam`).

        Args:
            images: (N, 3, H, W) normalized input tensor.
            feature: the backbone feature to explain (default: ``gradcam_feature``).

        Returns:
            The head's image logits and (N, K, h, w) Grad-CAM maps of the K lesion classes' logits, at
            the feature's resolution; both detached.
        """
        feature = feature or self.gradcam_feature
        with torch.enable_grad():
            features = self.backbone(images)
            if not features[feature].requires_grad:
                raise ValueError(f"Grad-CAM needs gradients on {feature!r}, which frozen layers compute")
            logits = self.head(features[self.in_feature])["logits"]
            maps = grad_cam(features[feature], logits[:, : self.head.num_classes])
        return logits.detach(), maps

    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        """
        Args:
            batched_inputs: see ``docs/DATA_FORMAT_INTERNAL.md``.

        Returns:
            In training, the ``loss_cam_*`` losses; in inference, one dict per image (see the class doc).
        """
        images = self.preprocess_image(batched_inputs)
        if not self.training:
            return self.inference(batched_inputs, images)
        features = self.backbone(images.tensor)
        outputs = self.head(features[self.in_feature])
        labels = stack_image_labels(batched_inputs, self.device)
        losses = self.head.losses(outputs, labels)
        if self.attention_mining is not None:
            with running_statistics_kept(self, enabled=not self.attention_mining.update_bn_stats):
                loss_am, weight = self.attention_mining(
                    images.tensor, outputs["heatmaps"], outputs["logits"], labels, self.classify, self.head
                )
            losses = {k: (1.0 - weight) * v for k, v in losses.items()}
            losses["loss_cam_am"] = weight * loss_am
            get_event_storage().put_scalar("cam/attention_mining_lambda", weight, smoothing_hint=False)
        if self.mask_decoder is not None:
            instances = [x["instances"].to(self.device) if "instances" in x else None for x in batched_inputs]
            losses.update(
                self.mask_decoder.losses(self.mask_decoder(features), instances, images.tensor.shape[-2:])
            )
        return losses

    def inference(self, batched_inputs: List[Dict[str, torch.Tensor]], images: ImageList) -> List[Dict[str, object]]:
        """One output dict per image (see the class doc)."""
        if self.heatmaps == "gradcam":
            logits, heatmaps = self.grad_cam(images.tensor)
        else:
            features = self.backbone(images.tensor)
            outputs = self.head(features[self.in_feature])
            logits, heatmaps = outputs["logits"], outputs["heatmaps"]
            if self.mask_decoder is not None:
                heatmaps = torch.sigmoid(self.mask_decoder(features))
        return self._postprocess(batched_inputs, images, heatmaps, self.head.image_probs(logits))

    def _postprocess(
        self, batched_inputs, images: ImageList, heatmaps: torch.Tensor, image_probs: torch.Tensor
    ) -> List[Dict[str, object]]:
        results = []
        for x, maps, probs, size in zip(batched_inputs, heatmaps, image_probs, images.image_sizes):
            full = resize_heatmaps(
                maps, images.tensor.shape[-2:], size, (x.get("height", size[0]), x.get("width", size[1]))
            )
            results.append(
                {"instances": self.box_extractor(full, probs), "image_probs": probs, "heatmaps": full}
            )
        return results

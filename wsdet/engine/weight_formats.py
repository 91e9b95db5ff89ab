"""Pretrained weights saved by other libraries, renamed to Detectron2's ResNet names."""
import re
from typing import Dict, Optional

__all__ = ["TORCHVISION_RESNET_SETTINGS", "torchvision_resnet_to_detectron2"]

# What a ResNet trained by torchvision expects, in Detectron2 config keys (RGB input in [0, 255]
# normalized with the ImageNet mean and std, stride in the 3x3 convolution).
TORCHVISION_RESNET_SETTINGS = (
    "INPUT.FORMAT RGB, MODEL.PIXEL_MEAN [123.675, 116.28, 103.53], MODEL.PIXEL_STD [58.395, 57.12, 57.375], "
    "MODEL.RESNETS.STRIDE_IN_1X1 False"
)
_RULES = (
    (r"^conv1\.", "stem.conv1."),
    (r"^bn1\.", "stem.conv1.norm."),
    (r"^layer(\d)\.", lambda m: f"res{int(m.group(1)) + 1}."),
    (r"\.bn(\d)\.", r".conv\1.norm."),
    (r"\.downsample\.0\.", ".shortcut."),
    (r"\.downsample\.1\.", ".shortcut.norm."),
)


def torchvision_resnet_to_detectron2(state_dict: Dict[str, object]) -> Optional[Dict[str, object]]:
    """
    The weights of a torchvision ResNet state dict (``conv1``, ``bn1``, ``layer1..4``, ``fc``) under
    Detectron2's ResNet names (``stem``, ``res2..5``, ``shortcut``, ``convK.norm``), without the
    BatchNorm batch counters; None when ``state_dict`` is not in that layout.
    """
    if "conv1.weight" not in state_dict or not any(k.startswith("layer1.") for k in state_dict):
        return None
    renamed = {}
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        for pattern, replacement in _RULES:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed

"""A Detectron2 model-zoo Faster R-CNN config with a wsdet image branch: builds, trains, infers on CPU.

Needs ``detectron2.model_zoo``, which imports ``pkg_resources`` (setuptools < 81; tools/setup_env.sh
installs it).
"""
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

import wsdet

pytestmark = pytest.mark.slow

TINY = [
    "MODEL.META_ARCHITECTURE", "GeneralizedRCNNWithImageBranch",
    "MODEL.WEIGHTS", "",
    "MODEL.DEVICE", "cpu",
    "MODEL.ROI_HEADS.NUM_CLASSES", "2",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "32",
    "MODEL.RPN.POST_NMS_TOPK_TEST", "32",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16",
    "WSDET.CAM.IN_FEATURE", "p4",
]


def zoo_config_file(name: str) -> str:
    try:
        from detectron2 import model_zoo
    except ModuleNotFoundError as e:
        pytest.fail(f"detectron2.model_zoo does not import ({e}): run tools/setup_env.sh (setuptools<81)")
    return model_zoo.get_config_file(name)


def training_input(label: int) -> dict:
    """A 64 x 64 image with one box of class ``label`` and the matching multi-hot image labels."""
    instances = Instances((64, 64))
    instances.gt_boxes = Boxes(torch.tensor([[10.0, 12.0, 40.0, 44.0]]))
    instances.gt_classes = torch.tensor([label])
    image = torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
    return {"image": image, "instances": instances, "image_labels": torch.eye(2)[label]}


def test_model_zoo_faster_rcnn_with_an_image_branch():
    cfg = get_cfg()
    wsdet.add_wsdet_config(cfg)
    cfg.merge_from_file(zoo_config_file("COCO-Detection/faster_rcnn_R_50_FPN_1x.yaml"))
    cfg.merge_from_list(TINY)
    torch.manual_seed(0)
    model = build_model(cfg)
    assert type(model).__name__ == "GeneralizedRCNNWithImageBranch"

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    with EventStorage():
        losses = model([training_input(0), training_input(1)])
    assert any(k.startswith("loss_cam") for k in losses) and "loss_rpn_cls" in losses
    total = sum(losses.values())
    assert torch.isfinite(total)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()

    model.eval()
    with torch.no_grad():
        image = torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
        (output,) = model([{"image": image, "height": 96, "width": 80}])
    assert output["image_probs"].shape == (2,)
    assert output["heatmaps"].shape == (2, 96, 80)
    assert isinstance(output["instances"], Instances)

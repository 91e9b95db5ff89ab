"""Self-training: selection of confident agreeing weak images, pseudo-label JSONs, the tool end to end."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, instant_opts, load_tool, run_train_net
from wsdet.data import load_wsdet_coco_json
from wsdet.engine.self_training import (
    retrain_config,
    select_pseudo_labels,
    write_pseudo_label_jsons,
)

TINY = instant_opts("rcnn")


def _pred(probs, boxes, scores, classes):
    return {"image_probs": np.array(probs, dtype=np.float32), "boxes": np.array(boxes, dtype=np.float32),
            "scores": np.array(scores, dtype=np.float32), "classes": np.array(classes)}


DICTS = [
    {"image_id": 1, "file_name": "a", "image_labels": [0]},   # benign, predicted benign (0.7)
    {"image_id": 2, "file_name": "b", "image_labels": [1]},   # malignant, predicted malignant (0.9)
    {"image_id": 3, "file_name": "c", "image_labels": [1]},   # malignant, predicted normal: disagrees
    {"image_id": 4, "file_name": "d", "image_labels": []},    # normal: never pseudo-labelled
    {"image_id": 5, "file_name": "e", "image_labels": [0]},   # agrees but no benign detection
]
PREDICTIONS = {
    1: _pred([0.7, 0.2], [[0, 0, 10, 10], [5, 5, 20, 20]], [0.4, 0.8], [0, 0]),
    2: _pred([0.05, 0.9], [[1, 1, 4, 4], [2, 2, 9, 9]], [0.3, 0.95], [0, 1]),
    3: _pred([0.1, 0.3], [[0, 0, 5, 5]], [0.9], [1]),
    4: _pred([0.1, 0.1], [[0, 0, 5, 5]], [0.9], [1]),
    5: _pred([0.8, 0.1], [[0, 0, 5, 5]], [0.9], [1]),
}


def test_selection_ranks_agreeing_images_by_confidence():
    chosen = select_pseudo_labels(DICTS, PREDICTIONS, fraction=1.0)
    assert [p.image_id for p in chosen] == [2, 1]
    assert chosen[0].category == 1 and chosen[0].box_xyxy == (2.0, 2.0, 9.0, 9.0)
    assert chosen[1].box_xyxy == (5.0, 5.0, 20.0, 20.0)  # top benign detection, not the first one
    # 4 weak lesion images: 25% -> the single most confident one
    assert [p.image_id for p in select_pseudo_labels(DICTS, PREDICTIONS, 0.25)] == [2]
    assert select_pseudo_labels(DICTS, PREDICTIONS, 0.0) == []


def test_selection_errors():
    with pytest.raises(ValueError, match="fraction"):
        select_pseudo_labels(DICTS, PREDICTIONS, 1.5)
    with pytest.raises(KeyError, match="no prediction for image 2"):
        select_pseudo_labels(DICTS, {1: PREDICTIONS[1]}, 1.0)


def test_pseudo_label_jsons_load_as_strong_and_weak(tmp_path, tiny_coco):
    weak_json, root, _ = tiny_coco(strong=False, num_images=6)  # labels: -, b, m, -, b, m
    dicts = load_wsdet_coco_json(weak_json, root)
    preds = {d["image_id"]: _pred([0.1, 0.1], [[0, 0, 5, 5]], [0.9], [0]) for d in dicts}
    preds[2] = _pred([0.8, 0.1], [[10, 12, 30, 28]], [0.9], [0])
    chosen = select_pseudo_labels(dicts, preds, 1.0)
    assert [p.image_id for p in chosen] == [2]
    counts = write_pseudo_label_jsons(
        weak_json, chosen, {0: 1, 1: 2}, str(tmp_path / "p.json"), str(tmp_path / "w.json")
    )
    assert counts == (1, 5)
    strong = load_wsdet_coco_json(str(tmp_path / "p.json"), root)
    weak = load_wsdet_coco_json(str(tmp_path / "w.json"), root)
    assert strong[0]["supervision"] == "strong" and strong[0]["annotations"][0]["bbox"] == [10, 12, 20, 16]
    assert {d["supervision"] for d in weak} == {"weak"} and 2 not in {d["image_id"] for d in weak}
    with open(tmp_path / "p.json") as f:
        assert json.load(f)["annotations"][0]["pseudo_label"] is True


@pytest.mark.slow
def test_self_train_tool_end_to_end(tmp_path, tiny_coco):
    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    datasets = ["--dataset", "t_strong", strong_json, root, "--weak-dataset", "t_weak", weak_json, root]
    config = ["--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"), *datasets]
    opts = ["DATASETS.TRAIN", "('t_strong','t_weak')", "DATASETS.TEST", "('t_strong',)", *TINY]
    run_train_net([*config, *opts, "OUTPUT_DIR", str(tmp_path / "first")], cwd=str(tmp_path))
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "self_train.py"), *config,
         "--fraction", "1.0", "--output-dir", str(tmp_path / "st"), "--retrain", "--truth-json", strong_json,
         "--audit-fractions", "0.5,1", *opts,
         "MODEL.WEIGHTS", str(tmp_path / "first" / "model_final.pth")],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
    )
    # an untrained model agrees with no image label: the JSONs are written, retraining is refused
    assert result.returncode != 0
    assert "qualified for pseudo-labelling" in result.stderr
    with open(tmp_path / "st" / "remaining_weak.json") as f:
        assert len(json.load(f)["images"]) == 6
    with open(tmp_path / "st" / "pseudo_box_quality_by_fraction.json") as f:
        assert {k: q["images"] for k, q in json.load(f).items()} == {"0.5": 0, "1": 0}


def test_retrain_config():
    from detectron2.config import get_cfg

    from wsdet import add_wsdet_config

    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.DATASETS.TRAIN = ("strong", "weak")
    cfg.MODEL.WEIGHTS = "first.pth"
    joint = retrain_config(cfg, "weak", "pseudo", "rest", "/out", "R-50.pkl")
    assert joint.DATASETS.TRAIN == ("strong", "pseudo", "rest")
    # the retraining starts from the weights it is given (the original run's initial weights by
    # default), not from nothing: a frozen stem and FrozenBN of a random R-50 would never learn
    assert joint.MODEL.WEIGHTS == "R-50.pkl" and joint.OUTPUT_DIR == "/out/retrain"
    # --mil-images all: the MIL loss keeps every labelled image, the pseudo-labelled ones too
    assert retrain_config(cfg, "weak", "pseudo", "weak", "/out", "").DATASETS.TRAIN == ("strong", "pseudo", "weak")
    cfg.WSDET.DATALOADER.WEAK_IMS_PER_BATCH = 0
    assert retrain_config(cfg, "weak", "pseudo", "rest", "/out", "").DATASETS.TRAIN == ("strong", "pseudo")


def test_self_train_tool_keeps_every_labelled_image_in_the_mil_loss_by_default():
    tool = load_tool("self_train")
    base = ["--config-file", "c.yaml", "--output-dir", "out"]
    assert tool.build_parser().parse_args(base).mil_images == "all"
    assert tool.build_parser().parse_args([*base, "--mil-images", "remaining"]).mil_images == "remaining"
    parsed = tool.build_parser().parse_args([*base, "--audit-fractions", "0.1,0.5", "KEY", "1"])
    assert parsed.audit_fractions == [0.1, 0.5] and parsed.opts == ["KEY", "1"]
    with pytest.raises(SystemExit, match="give --truth-json"):
        tool.main(tool.build_parser().parse_args([*base, "--audit-fractions", "0.5"]))
    with pytest.raises(SystemExit, match="missing.json: no such file"):
        tool.main(tool.build_parser().parse_args([*base, "--truth-json", "missing.json"]))


def test_pseudo_box_quality_against_known_boxes():
    from detectron2.structures import BoxMode

    from wsdet.engine.self_training import PseudoLabel, pseudo_box_quality

    truth = [
        {"image_id": 1, "annotations": [{"bbox": [0, 0, 10, 10], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0}]},
        {"image_id": 2, "annotations": [{"bbox": [0, 0, 10, 10], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 1}]},
    ]
    pseudo = [
        PseudoLabel(1, 0, (0.0, 0.0, 10.0, 5.0), 0.9, 0.9),  # IoU 50 / 100 = 0.5
        PseudoLabel(2, 0, (0.0, 0.0, 10.0, 10.0), 0.9, 0.8),  # right place, wrong class: 0
        PseudoLabel(3, 1, (0.0, 0.0, 1.0, 1.0), 0.9, 0.7),  # no known boxes: not audited
    ]
    quality = pseudo_box_quality(pseudo, truth)
    assert quality == {"images": 3, "audited": 2, "mean_iou": pytest.approx(0.25), "iou_at_least_0.5": 0.5}


def test_pseudo_box_quality_by_fraction_scores_what_each_fraction_selects():
    from detectron2.structures import BoxMode

    from wsdet.engine.self_training import pseudo_box_quality_by_fraction

    images = [{"image_id": i, "file_name": f"{i}.png", "image_labels": [0]} for i in range(4)]
    truth = [{"image_id": i, "annotations": [{"bbox": [0, 0, 10, 10], "bbox_mode": BoxMode.XYWH_ABS,
                                              "category_id": 0}]} for i in range(4)]

    def prediction(confidence, right):  # one box, on the true one or far from it
        box = [0.0, 0.0, 10.0, 10.0] if right else [50.0, 50.0, 60.0, 60.0]
        return {"image_probs": np.array([confidence]), "boxes": np.array([box]), "scores": np.array([0.9]),
                "classes": np.array([0])}

    predictions = {0: prediction(0.95, True), 1: prediction(0.9, True), 2: prediction(0.8, False),
                   3: prediction(0.7, True)}
    quality = pseudo_box_quality_by_fraction(images, predictions, truth, [0.5, 0.75, 1.0])
    assert list(quality) == ["0.5", "0.75", "1"]
    assert [q["images"] for q in quality.values()] == [2, 3, 4]
    assert [q["iou_at_least_0.5"] for q in quality.values()] == [1.0, pytest.approx(2 / 3), 0.75]


@pytest.mark.slow
def test_paper_recipe_retrains_from_the_initial_weights(tmp_path, tiny_coco, msra_r50):
    """bus_joint_paper.yaml from a local MSRA R-50: trains and evaluates, then the self-training retrain
    starts from the run's initial ImageNet weights, not from the trained model, and trains."""
    import pickle

    import torch

    from detectron2.data import DatasetCatalog

    from conftest import unique_name
    from wsdet.data import register_wsdet_coco
    from wsdet.engine import WSDetTrainer
    from wsdet.engine.defaults import build_config
    from wsdet.engine.self_training import PseudoLabel, initial_weights_of_run, retrain_weights

    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    paper = os.path.join(REPO, "configs", "bus_joint_paper.yaml")
    datasets = ["--dataset", "p_strong", strong_json, root, "--weak-dataset", "p_weak", weak_json, root]
    first = tmp_path / "first"
    run_train_net(["--config-file", paper, *datasets, "DATASETS.TRAIN", "('p_strong','p_weak')",
                   "DATASETS.TEST", "('p_strong',)", *TINY, "MODEL.WEIGHTS", msra_r50, "OUTPUT_DIR", str(first)],
                  cwd=str(tmp_path))
    trained = str(first / "model_final.pth")
    initial, source = initial_weights_of_run(trained, paper)
    assert (initial, source) == (msra_r50, str(first / "config.yaml"))  # the command line's weights
    assert retrain_weights("config", initial, trained) == msra_r50
    assert retrain_weights("model", initial, trained) == trained and retrain_weights("none", initial, trained) == ""

    names = [unique_name("p_strong"), unique_name("p_weak"), unique_name("p_pseudo"), unique_name("p_rest")]
    register_wsdet_coco(names[0], strong_json, root)
    register_wsdet_coco(names[1], weak_json, root)
    weak = DatasetCatalog.get(names[1])
    lesion = next(d for d in weak if d["image_labels"])
    pseudo = [PseudoLabel(lesion["image_id"], lesion["image_labels"][0], (10.0, 12.0, 30.0, 28.0), 0.9, 0.9)]
    to_dataset = {0: 1, 1: 2}
    write_pseudo_label_jsons(weak_json, pseudo, to_dataset, str(tmp_path / "p.json"), str(tmp_path / "r.json"))
    register_wsdet_coco(names[2], str(tmp_path / "p.json"), root, supervision="strong")
    register_wsdet_coco(names[3], str(tmp_path / "r.json"), root, supervision="weak")
    cfg = build_config(paper, [*TINY, "MODEL.WEIGHTS", trained, "DATASETS.TRAIN", str(tuple(names[:2])),
                               "DATASETS.TEST", "()"])
    cfg = retrain_config(cfg, names[1], names[2], names[3], str(tmp_path / "st"), initial)
    trainer = WSDetTrainer(cfg)
    trainer.resume_or_load(resume=False)
    res4 = trainer.model.backbone.bottom_up.res4[0].conv1.weight.detach().clone()
    with open(msra_r50, "rb") as f:
        imagenet = torch.as_tensor(pickle.load(f)["blobs"]["res4_0_branch2a_w"])
    trained_res4 = torch.load(trained, weights_only=True)["model"]["backbone.bottom_up.res4.0.conv1.weight"]
    assert torch.equal(res4, imagenet) and not torch.equal(res4, trained_res4)
    trainer.train()
    assert (tmp_path / "st" / "retrain" / "model_final.pth").exists()


def test_self_train_refuses_an_untrained_model(tmp_path, tiny_coco):
    weak_json, root, _ = tiny_coco(strong=False)
    config = ["--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"), "--weak-dataset", "u_weak", weak_json,
              root, "--output-dir", str(tmp_path / "st"), "DATASETS.TRAIN", "('u_weak',)"]
    result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "self_train.py"), *config],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "MODEL.WEIGHTS is empty" in result.stderr
    other = tmp_path / "other.pth"
    import torch

    torch.save({"model": {"head.weight": torch.zeros(2)}}, other)
    result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "self_train.py"), *config,
                             "MODEL.WEIGHTS", str(other)], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "none of the model's" in result.stderr
    assert not (tmp_path / "st" / "pseudo_strong.json").exists()


def test_self_train_refuses_to_write_into_the_folder_of_the_model_it_reads(tmp_path, tiny_coco):
    weak_json, root, _ = tiny_coco(strong=False)
    run = tmp_path / "run"
    run.mkdir()
    (run / "model_final.pth").write_bytes(b"weights")
    (run / "config.yaml").write_text("the original run's config")
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "self_train.py"), "--config-file",
         os.path.join(REPO, "configs", "bus_joint.yaml"), "--weak-dataset", "u_weak", weak_json, root,
         "--output-dir", str(run / "."), "DATASETS.TRAIN", "('u_weak',)",
         "MODEL.WEIGHTS", str(run / "model_final.pth")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0 and "is the folder of the model it reads" in result.stderr
    assert sorted(os.listdir(run)) == ["config.yaml", "model_final.pth"]
    assert (run / "config.yaml").read_text() == "the original run's config"

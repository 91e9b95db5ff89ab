"""Multi-process training on CPU (gloo, Detectron2's ``launch``) and the DDP invariant of every config."""
import glob
import json
import math
import os

import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.engine import launch
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng
from detectron2.utils.events import EventStorage

from conftest import REPO, instant_opts, unique_name
from wsdet.data import StrongWeakBatchSampler, register_wsdet_coco
from wsdet.engine import WSDetCheckpointer, WSDetTrainer
from wsdet.engine.defaults import build_config

pytestmark = pytest.mark.slow

TINY = instant_opts("rcnn")

JOINT = os.path.join(REPO, "configs", "bus_joint.yaml")


class _RecordingLoader:
    """Iterates a training loader and records the file names of each batch."""

    def __init__(self, loader, record):
        self.loader, self.record = loader, record

    def __iter__(self):
        for batch in self.loader:
            self.record.append([d["file_name"] for d in batch])
            yield batch


def _worker(task, datasets, opts, out_file):
    """One process of a run (spawned by ``launch``): "train" or "eval" (of ``MODEL.WEIGHTS``)."""
    for spec in datasets:  # catalogs do not cross process boundaries
        register_wsdet_coco(*spec)
    cfg = build_config(JOINT, opts)
    cfg.freeze()
    seed_all_rng(cfg.SEED + comm.get_rank())
    if task == "eval":
        model = WSDetTrainer.build_model(cfg)
        WSDetCheckpointer(model).load(cfg.MODEL.WEIGHTS)
        torch.save({"results": WSDetTrainer.test(cfg, model)}, out_file)
        return
    trainer = WSDetTrainer(cfg)
    trainer.resume_or_load(resume=False)
    files = []
    trainer.data_loader = _RecordingLoader(trainer.data_loader, files)
    trainer.train()
    params = {k: v.detach().clone() for k, v in trainer.model.module.named_parameters()}
    torch.save(
        {"params": params, "files": files, "results": getattr(trainer, "_last_eval_results", None)},
        out_file.format(rank=comm.get_rank()),
    )


def _flat(results):
    return {f"{task}/{k}": v for task, metrics in results.items() for k, v in metrics.items()}


def _same(a, b):
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def test_two_gloo_processes_train_and_evaluate_like_one(tmp_path, tiny_coco, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # gloo processes even on a GPU machine
    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    names = [unique_name(n) for n in ("strong", "weak", "test")]
    datasets = [(names[0], strong_json, root), (names[1], weak_json, root)]
    datasets.append((names[2], strong_json, root))
    opts = [
        *TINY, "SOLVER.MAX_ITER", "4", "DATASETS.TRAIN", str(tuple(names[:2])),
        "DATASETS.TEST", str((names[2],)), "WSDET.DATALOADER.MODE", "alternating_batches",
        "WSDET.EVAL.BOOTSTRAP_RESAMPLES", "50", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
    ]
    for spec in datasets:
        register_wsdet_coco(*spec)
    train_out = str(tmp_path / "train")
    launch(_worker, 2, dist_url="auto",
           args=("train", datasets, [*opts, "OUTPUT_DIR", train_out], str(tmp_path / "rank{rank}.pth")))
    ranks = [torch.load(tmp_path / f"rank{r}.pth", weights_only=True) for r in (0, 1)]

    # Every process holds the same parameters, and the checkpoint holds them too.
    final = torch.load(os.path.join(train_out, "model_final.pth"), weights_only=True)["model"]
    for name, value in ranks[0]["params"].items():
        assert torch.equal(value, ranks[1]["params"][name]) and torch.equal(value, final[name]), name

    # Each step: disjoint shares (strong-only and weak-only steps alternate), together exactly the
    # batch of one process with the same seed.
    pools = DatasetCatalog.get(names[0]) + DatasetCatalog.get(names[1])
    single = StrongWeakBatchSampler(6, 6, 2, 2, mode="alternating_batches", seed=1, rank=0, world_size=1)
    for step, (files0, files1) in enumerate(zip(ranks[0]["files"], ranks[1]["files"])):
        assert files0 + files1 == [pools[i]["file_name"] for i in single.indices_at(step)]
    assert len(ranks[0]["files"]) == 4

    # Evaluation: 1 process from the checkpoint == 2 processes at the end of training.
    weights = os.path.join(train_out, "model_final.pth")
    eval_opts = [*opts, "OUTPUT_DIR", str(tmp_path / "eval1"), "MODEL.WEIGHTS", weights]
    launch(_worker, 1, args=("eval", [], eval_opts, str(tmp_path / "eval1.pth")))
    one = _flat(torch.load(tmp_path / "eval1.pth", weights_only=True)["results"])
    two = _flat(ranks[0]["results"])
    assert {"bbox/AP50", "corloc/top1", "froc/mean_sensitivity", "classification/mean_auc"} <= set(one)
    assert one.keys() == two.keys() and math.isfinite(one["bbox/AP50"])
    assert not {k: (one[k], two[k]) for k in one if not _same(one[k], two[k])}
    detections = []
    for out in (str(tmp_path / "eval1"), train_out):
        with open(os.path.join(out, "inference", names[2], "coco_instances_results.json")) as f:
            detections.append(json.load(f))
    assert len(detections[0]) > 100 and detections[0] == detections[1]  # every box and score


def _batch(cfg, supervision):
    """Two 64 px images of the given supervision, as the training mapper makes them."""
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    batch = []
    for i in range(2):
        labels = torch.zeros(num_classes)
        labels[i % num_classes] = 1.0
        d = {"image": torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8), "height": 64, "width": 64,
             "image_id": i, "file_name": f"{i}.png", "supervision": supervision, "image_labels": labels}
        if supervision == "strong":
            instances = Instances((64, 64), gt_boxes=Boxes(torch.tensor([[8.0, 8.0, 40.0, 36.0]])),
                                  gt_classes=torch.tensor([i % num_classes]))
            if cfg.MODEL.MASK_ON:
                masks = torch.zeros(1, 64, 64, dtype=torch.bool)
                masks[:, 8:36, 8:40] = True
                instances.gt_masks = BitMasks(masks)
            d["instances"] = instances
        batch.append(d)
    return batch


@pytest.mark.parametrize(
    "config",
    sorted(c for c in glob.glob(os.path.join(REPO, "configs", "*.yaml"))
           if not os.path.basename(c).startswith("Base-")),
    ids=os.path.basename,
)
def test_every_parameter_gets_a_gradient_every_step(config):
    """DDP without find_unused_parameters needs each parameter in the graph of every step, whatever
    the batch holds (strong only, weak only, both)."""
    cfg = build_config(config, [*TINY, "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"])
    model = build_model(cfg)
    model.train()
    for kinds in (("strong",), ("weak",), ("strong", "weak")):
        model.zero_grad(set_to_none=True)
        with EventStorage(0):
            losses = model([d for kind in kinds for d in _batch(cfg, kind)])
        sum(losses.values()).backward()
        unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        assert not unused, f"{kinds} batch leaves parameters out of the graph: {unused[:5]}"

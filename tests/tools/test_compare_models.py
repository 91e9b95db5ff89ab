"""tools/compare_models.py on hand-made results: CorLoc, FROC and AUC of two models, paired p-values."""
import json
import os
import subprocess
import sys

import pytest

from conftest import TOOLS, unique_name


def _run_tool(args):
    result = subprocess.run([sys.executable, os.path.join(TOOLS, "compare_models.py"), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def _write(folder, detections, probs=None):
    folder.mkdir(parents=True)
    (folder / "coco_instances_results.json").write_text(json.dumps(detections))
    if probs is not None:
        (folder / "image_probs.json").write_text(json.dumps(probs))
    return str(folder)


def test_compare_two_models(tmp_path, tiny_coco):
    # 24 images: 8 normal, 16 with one 20x16 box at (10, 12)
    json_file, root, coco = tiny_coco(strong=True, num_images=24)
    anns = coco["annotations"]
    hit = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
           for a in anns]
    # model B: every lesion found but only at score 0.4 (official misses, top-1 correct), plus a
    # confident false positive on the first normal image
    low = [dict(d, score=0.4) for d in hit] + [
        {"image_id": 1, "category_id": 1, "bbox": [40.0, 40.0, 10.0, 10.0], "score": 0.8}
    ]
    ids = [img["id"] for img in coco["images"]]
    labels = [img["pos_category_ids"] for img in coco["images"]]
    right = {"image_ids": ids, "probs": [[0.9 if c in lab else 0.1 for c in (1, 2)] for lab in labels]}
    unsure = {"image_ids": ids, "probs": [[0.3, 0.3] for _ in ids]}
    a = _write(tmp_path / "a", hit, right)
    b = _write(tmp_path / "b", low, unsure)
    name = unique_name("cmp")
    out = tmp_path / "cmp.json"
    printed = _run_tool(["--dataset", name, json_file, root, "--dataset-name", name, "--results", a, b,
                  "--labels", "good", "shy", "--bootstrap", "200", "--output", str(out)])
    result = json.loads(out.read_text())
    good, shy = result["models"]["good"], result["models"]["shy"]
    assert good["corloc"]["official"]["corloc"] == 1.0 and shy["corloc"]["official"]["corloc"] == 0.0
    assert good["corloc"]["top1"]["corloc"] == shy["corloc"]["top1"]["corloc"] == 1.0
    assert shy["corloc"]["fp_per_normal_image"] == pytest.approx(1 / 8) and good["corloc"]["fp_per_normal_image"] == 0
    p = result["paired_pvalue"]
    assert p["corloc_official"] < 0.01
    assert p["corloc_top1"] == 1.0  # identical outcomes: no evidence of a difference
    assert good["froc"]["mean_sensitivity"] == 1.0 and p["froc_mean_sensitivity"] > 0.05  # one FP at 0.8
    assert good["auc"]["benign"]["auc"] == 1.0 and shy["auc"]["benign"]["auc"] == 0.5
    assert p["auc abnormal vs normal"] < 0.01
    assert "| CorLoc official" in printed and "1.000 [1.000, 1.000]" in printed and "| AUC malignant" in printed

"""tools/compare_models.py on hand-made detections: CorLoc of two models and the paired p-value."""
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


def _write(folder, detections):
    folder.mkdir(parents=True)
    (folder / "coco_instances_results.json").write_text(json.dumps(detections))
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
    a = _write(tmp_path / "a", hit)
    b = _write(tmp_path / "b", low)
    name = unique_name("cmp")
    out = tmp_path / "cmp.json"
    printed = _run_tool(["--dataset", name, json_file, root, "--dataset-name", name, "--results", a, b,
                  "--labels", "good", "shy", "--bootstrap", "200", "--output", str(out)])
    result = json.loads(out.read_text())
    good, shy = result["models"]["good"], result["models"]["shy"]
    assert good["official"]["corloc"] == 1.0 and shy["official"]["corloc"] == 0.0
    assert good["top1"]["corloc"] == shy["top1"]["corloc"] == 1.0
    assert shy["fp_per_normal_image"] == pytest.approx(1 / 8) and good["fp_per_normal_image"] == 0.0
    assert result["paired_pvalue"]["official"] < 0.01
    assert result["paired_pvalue"]["top1"] == 1.0  # identical outcomes: no evidence of a difference
    assert "CorLoc official: good 1.000 [1.000, 1.000]  vs  shy 0.000 [0.000, 0.000]" in printed

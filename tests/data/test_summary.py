"""The per-group table of a dataset (what tools/visualize_data.py prints)."""
from wsdet.data.summary import dataset_summary, label_group

NAMES = ["benign", "malignant"]


def _record(supervision, labels, boxes=(), background=0):
    return {
        "supervision": supervision,
        "image_labels": list(labels),
        "annotations": [{"category_id": c} for c in boxes],
        "background_boxes": [[0, 0, 1, 1]] * background,
    }


def test_groups_and_totals():
    dicts = [
        _record("strong", [0], boxes=[0, 0]),
        _record("strong", [], background=2),
        _record("weak", [0, 1]),
        _record("weak", [1]),
    ]
    assert label_group(dicts[2], NAMES) == "benign + malignant" and label_group(dicts[1], NAMES) == "normal"
    rows = {line.split("|")[1].strip() + "/" + line.split("|")[2].strip(): [c.strip() for c in line.split("|")[3:-1]]
            for line in dataset_summary(dicts, NAMES).splitlines()[2:]}
    assert rows["strong/benign"] == ["1", "1", "2", "0", "0"]
    assert rows["strong/normal"] == ["1", "0", "0", "0", "2"]
    assert rows["weak/benign + malignant"] == ["1", "0", "0", "0", "0"]
    assert rows["all/"] == ["4", "1", "2", "0", "2"]

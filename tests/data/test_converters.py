"""Dataset converters on small fixtures written in the public datasets' real layouts and CSV headers."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from png_bytes import png_header
from wsdet.data import load_wsdet_coco_json
from wsdet.data.converters import (
    CXR14_CATEGORIES,
    CocoBuilder,
    Conversion,
    ConversionError,
    ConversionReport,
    convert_busi,
    convert_chestxray14,
    convert_udiat,
    read_mask,
    split_weak,
    write_conversion,
)

W, H = 40, 30  # fixture image size


def save_png(path, array, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)


def rect_mask(*rects, size=(H, W)):
    """Mask with value 255 in each (row0, row1, col0, col1) rectangle, ends inclusive."""
    mask = np.zeros(size, dtype=np.uint8)
    for r0, r1, c0, c1 in rects:
        mask[r0 : r1 + 1, c0 : c1 + 1] = 255
    return mask


def run_cli(argv, cwd=None):
    """``tools/convert_dataset.py argv``: (exit code, stdout, stderr)."""
    result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "convert_dataset.py"), *argv],
                            cwd=cwd, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


# ----------------------------------------------------------------------------------------------- BUSI
@pytest.fixture
def busi_root(tmp_path):
    """Dataset_BUSI_with_GT layout: class folders, ``_mask`` / ``_mask_1`` files, one stray file."""
    root = tmp_path / "Dataset_BUSI_with_GT"
    image = np.full((H, W), 90, dtype=np.uint8)
    files = {
        "benign/benign (1).png": image,
        "benign/benign (1)_mask.png": rect_mask((5, 14, 10, 19)),
        "benign/benign (2).png": image,
        "benign/benign (2)_mask.png": rect_mask((2, 6, 3, 8)),
        "benign/benign (2)_mask_1.png": rect_mask((20, 25, 30, 37)),
        "benign/benign (10).png": image,
        "benign/benign (10)_mask.png": rect_mask(),
        # two lesion blobs and a one-pixel speck at row 28, column 38
        "malignant/malignant (1).png": image,
        "malignant/malignant (1)_mask.png": rect_mask((2, 9, 2, 9), (15, 24, 20, 29), (28, 28, 38, 38)),
        "malignant/malignant (2).png": image,
        "normal/normal (1).png": image,
        "normal/normal (1)_mask.png": rect_mask(),
        "normal/normal (2).png": image,
    }
    for rel, array in files.items():
        save_png(str(root / rel), array)
    (root / "normal" / "Thumbs.db").write_bytes(b"\0")
    return str(root)


def by_file(coco):
    """{file_name: (image entry, [annotations])}."""
    anns = {}
    for a in coco.get("annotations", []):
        anns.setdefault(a["image_id"], []).append(a)
    return {img["file_name"]: (img, anns.get(img["id"], [])) for img in coco["images"]}


def test_busi_boxes_equal_mask_extents(busi_root, tmp_path):
    conv = convert_busi(busi_root)
    strong, weak = by_file(conv.strong), by_file(conv.weak)
    assert [c["name"] for c in conv.strong["categories"]] == ["benign", "malignant"]
    assert list(strong) == [
        "benign/benign (1).png", "benign/benign (2).png", "malignant/malignant (1).png",
        "normal/normal (1).png", "normal/normal (2).png",
    ]
    img, anns = strong["benign/benign (1).png"]
    assert (img["width"], img["height"], img["pos_category_ids"]) == (W, H, [1])
    assert [(a["bbox"], a["area"], a["category_id"], a["iscrowd"]) for a in anns] == [
        ([10.0, 5.0, 10.0, 10.0], 100.0, 1, 0)
    ]
    polygon = np.array(anns[0]["segmentation"][0]).reshape(-1, 2)
    assert polygon.min(axis=0).tolist() == [10, 5] and polygon.max(axis=0).tolist() == [19, 14]
    # one box per mask file: _mask and _mask_1
    assert [a["bbox"] for a in strong["benign/benign (2).png"][1]] == [[3, 2, 6, 5], [30, 20, 8, 6]]
    # default: one box spanning every component of the mask, speck included
    img, anns = strong["malignant/malignant (1).png"]
    assert img["pos_category_ids"] == [2]
    assert [(a["bbox"], a["area"], a["category_id"]) for a in anns] == [([2, 2, 37, 27], 165, 2)]
    assert len(anns[0]["segmentation"]) == 3
    for name in ("normal/normal (1).png", "normal/normal (2).png"):
        assert strong[name][0]["pos_category_ids"] == [] and strong[name][1] == []
    # lesion images without a box: label-only, reported
    assert {k: v[0]["pos_category_ids"] for k, v in weak.items()} == {
        "benign/benign (10).png": [1], "malignant/malignant (2).png": [2]
    }
    assert "annotations" not in conv.weak
    warnings = "\n".join(conv.report.warnings)
    assert "benign (10).png: lesion image has no mask region" in warnings
    assert "malignant (2).png: lesion image has no mask file" in warnings
    assert list(conv.report.skipped) == ["not a PNG file"]

    # the outputs load through wsdet's own loader as strong and weak datasets
    out_strong, out_weak = str(tmp_path / "strong.json"), str(tmp_path / "weak.json")
    write_conversion(conv, out_strong, out_weak)
    dicts = load_wsdet_coco_json(out_strong, busi_root)
    assert len(dicts) == 5 and {d["supervision"] for d in dicts} == {"strong"}
    weak_dicts = load_wsdet_coco_json(out_weak, busi_root)
    assert [d["image_labels"] for d in weak_dicts] == [[0], [1]] and "annotations" not in weak_dicts[0]


def test_busi_min_area_and_component_boxes(busi_root):
    conv = convert_busi(busi_root, min_area=5)
    anns = by_file(conv.strong)["malignant/malignant (1).png"][1]
    assert [(a["bbox"], a["area"]) for a in anns] == [([2, 2, 28, 23], 164)]
    assert any("malignant (1)_mask.png: ignored 1 component(s) of [1] px" in w for w in conv.report.warnings)
    assert conv.report.counts["mask components ignored (smaller than --min-area)"] == 1

    conv = convert_busi(busi_root, box_per="component", min_area=5)
    anns = by_file(conv.strong)["malignant/malignant (1).png"][1]
    assert [(a["bbox"], a["area"]) for a in anns] == [([2, 2, 8, 8], 64), ([20, 15, 10, 10], 100)]


def test_busi_bad_inputs(busi_root, tmp_path):
    save_png(os.path.join(busi_root, "benign", "benign (1)_mask.png"), np.zeros((H, W + 1)))
    message = r"benign \(1\)_mask\.png: mask is 41x30 but its image .* is 40x30"
    with pytest.raises(ConversionError, match=message):
        convert_busi(busi_root)
    with pytest.raises(ConversionError, match="none of the BUSI folders"):
        convert_busi(str(tmp_path))
    with pytest.raises(ConversionError, match="not a folder"):
        convert_busi(str(tmp_path / "missing"))


def test_busi_normal_with_lesion_mask_and_orphan_mask(busi_root):
    save_png(os.path.join(busi_root, "normal", "normal (1)_mask.png"), rect_mask((1, 3, 1, 3)))
    save_png(os.path.join(busi_root, "normal", "normal (7)_mask.png"), rect_mask())
    conv = convert_busi(busi_root)
    assert by_file(conv.strong)["normal/normal (1).png"][1] == []
    assert any("normal (1).png: normal image has a non-empty mask" in w for w in conv.report.warnings)
    assert conv.report.skipped["mask without its image"] == [
        os.path.join(busi_root, "normal", "normal (7)_mask.png")
    ]


def test_read_mask_formats(tmp_path):
    expected = rect_mask((2, 5, 3, 9)) > 0
    save_png(str(tmp_path / "binary01.png"), expected.astype(np.uint8))
    rgba = np.dstack([rect_mask((2, 5, 3, 9))] * 3 + [np.full((H, W), 255)])
    save_png(str(tmp_path / "rgba.png"), rgba, "RGBA")
    Image.fromarray(rect_mask((2, 5, 3, 9))).convert("P").save(tmp_path / "palette.png")
    for name in ("binary01.png", "rgba.png", "palette.png"):
        assert np.array_equal(read_mask(str(tmp_path / name)), expected), name


# ------------------------------------------------------------------------------------------ weak split
def synthetic_conversion():
    """10 benign + 6 malignant box images, 4 normal images, 1 label-only image (id 100)."""
    strong = CocoBuilder(["benign", "malignant"], boxes=True, description="t", image_root=".")
    weak = CocoBuilder(["benign", "malignant"], boxes=False, description="t", image_root=".")
    labels = [[1]] * 10 + [[2]] * 6 + [[]] * 4
    for image_id, pos in enumerate(labels, start=1):
        strong.add_image(image_id, f"{image_id}.png", W, H, pos)
        for cid in pos:
            strong.add_annotation(image_id, cid, [1, 2, 3, 4], 12)
    weak.add_image(100, "100.png", W, H, [1])
    return Conversion(strong.to_dict(), weak.to_dict(), ConversionReport("test"))


def test_split_weak_fraction_per_class_and_seed():
    conv = synthetic_conversion()
    split = split_weak(conv, 0.5, seed=3)
    moved = [img for img in split.weak["images"] if img["id"] != 100]
    assert [sum(img["pos_category_ids"] == p for img in moved) for p in ([1], [2], [])] == [5, 3, 2]
    assert 100 in {img["id"] for img in split.weak["images"]} and "annotations" not in split.weak
    kept = {img["id"] for img in split.strong["images"]}
    assert len(kept) == 10 and kept.isdisjoint(img["id"] for img in moved)
    assert {a["image_id"] for a in split.strong["annotations"]} == {i for i in kept if i <= 16}
    assert split_weak(synthetic_conversion(), 0.5, seed=3).weak == split.weak
    other_seeds = [split_weak(synthetic_conversion(), 0.5, seed=s).weak["images"] for s in range(4, 8)]
    assert any(images != split.weak["images"] for images in other_seeds)
    assert len(split_weak(synthetic_conversion(), 0.0, seed=0).weak["images"]) == 1
    with pytest.raises(ValueError, match="weak fraction"):
        split_weak(synthetic_conversion(), 1.5, seed=0)


def test_cli_busi_weak_split(busi_root, tmp_path):
    strong_json, weak_json = str(tmp_path / "out" / "s.json"), str(tmp_path / "out" / "w.json")
    argv = ["busi", "--input", busi_root, "--output-json", strong_json, "--weak-output-json", weak_json,
            "--weak-fraction", "0.5", "--seed", "1"]
    code, summary, _ = run_cli(argv)
    assert code == 0
    assert "skipped 1 (not a PNG file)" in summary and "Thumbs.db" in summary
    with open(strong_json) as f:
        strong = json.load(f)
    with open(weak_json) as f:
        weak = json.load(f)
    # 5 box-complete images: 2 benign, 1 malignant, 2 normal -> 1 + 1 (half-up of 0.5) + 1 moved
    assert len(strong["images"]) == 2 and len(weak["images"]) == 5
    assert "annotations" not in weak
    assert {a["image_id"] for a in strong["annotations"]} <= {img["id"] for img in strong["images"]}
    code, _, error = run_cli(["busi", "--input", busi_root, "--output-json", strong_json, "--weak-fraction", "0.5"])
    assert code == 2 and "--weak-fraction" in error  # an argument error


def test_cli_reports_skipped_weak_images_without_weak_output(busi_root, tmp_path):
    code, summary, _ = run_cli(["busi", "--input", busi_root, "--output-json", str(tmp_path / "s.json")])
    assert code == 0
    assert "skipped 2 (image-label-only image and no weak output file given)" in summary


# ---------------------------------------------------------------------------------------- ChestX-ray14
DATA_ENTRY_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"
)
DATA_ENTRY_ROWS = [
    "00000001_000.png,Cardiomegaly|Effusion,0,1,58,M,PA,2682,2749,0.143,0.143,",
    "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,",
    "00000003_000.png,Infiltration|Mass,1,3,74,F,PA,2500,2048,0.168,0.168,",
    "00000004_000.png,Hernia,0,4,57,M,AP,2048,2500,0.168,0.168,",
    "00000005_000.png,Nodule,0,5,30,F,PA,2992,2991,0.143,0.143,",
]
BBOX_HEADER = "Image Index,Finding Label,Bbox [x,y,w,h],,,"
BBOX_ROWS = [
    "00000003_000.png,Infiltrate,100.5,200.25,50.0,60.0",
    "00000003_000.png,Mass,10,20,30,40",
    "00000001_000.png,Effusion,1000,900,50,50,,,",
]


def write_cxr(root, entry_rows=DATA_ENTRY_ROWS, bbox_rows=BBOX_ROWS, bbox_header=BBOX_HEADER):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "Data_Entry_2017.csv"), "w") as f:
        f.write("\n".join([DATA_ENTRY_HEADER] + entry_rows) + "\n")
    with open(os.path.join(root, "BBox_List_2017.csv"), "w") as f:
        f.write("\n".join([bbox_header] + bbox_rows) + "\n")
    return str(root)


def test_chestxray14_weak_labels_and_boxes(tmp_path):
    root = write_cxr(tmp_path / "cxr")
    conv = convert_chestxray14(root)
    assert [c["name"] for c in conv.strong["categories"]] == list(CXR14_CATEGORIES)
    assert len(CXR14_CATEGORIES) == 14 and CXR14_CATEGORIES.index("Infiltration") == 3
    weak = by_file(conv.weak)
    assert {k: v[0]["pos_category_ids"] for k, v in weak.items()} == {
        "images/00000001_000.png": [2, 3], "images/00000002_000.png": [],
        "images/00000003_000.png": [4, 5], "images/00000004_000.png": [14], "images/00000005_000.png": [6],
    }
    assert {(v[0]["width"], v[0]["height"]) for v in weak.values()} == {(1024, 1024)}
    strong = by_file(conv.strong)
    assert list(strong) == ["images/00000001_000.png", "images/00000003_000.png"]
    img, anns = strong["images/00000003_000.png"]
    assert img["id"] == 3 and img["pos_category_ids"] == [4, 5]
    # "Infiltrate" in the box file is the "Infiltration" class
    assert [(a["category_id"], a["bbox"], a["area"]) for a in anns] == [
        (4, [100.5, 200.25, 50.0, 60.0], 3000.0), (5, [10, 20, 30, 40], 1200.0)
    ]
    img, anns = strong["images/00000001_000.png"]
    assert img["pos_category_ids"] == [3] and 2 not in img["neg_category_ids"]
    assert img["neg_category_ids"] == [c for c in range(1, 15) if c not in (2, 3)]
    assert anns[0]["bbox"] == [1000, 900, 24, 50]  # clipped to the 1024 x 1024 image, with a warning
    assert any("row 4: box [1000.0, 900.0, 50.0, 50.0] clipped" in w for w in conv.report.warnings)
    assert conv.report.counts["boxed images with labelled but unboxed findings"] == 1

    out_strong, out_weak = str(tmp_path / "boxes.json"), str(tmp_path / "labels.json")
    write_conversion(conv, out_strong, out_weak)
    dicts = load_wsdet_coco_json(out_strong, root, check_files=False)
    assert [d["image_labels"] for d in dicts] == [[2], [3, 4]]  # contiguous ids (category id - 1)
    assert 1 not in dicts[0]["neg_image_labels"]  # Cardiomegaly: labelled, not boxed -> unknown
    assert len(load_wsdet_coco_json(out_weak, root, check_files=False)) == 5


def test_chestxray14_split_list_and_excluded_box_images(tmp_path):
    root = write_cxr(tmp_path / "cxr")
    split = tmp_path / "train_val_list.txt"
    split.write_text("00000001_000.png\n00000002_000.png\n00000005_000.png\n99999999_000.png\n")
    conv = convert_chestxray14(root, split_list=str(split), exclude_box_images=True)
    assert [img["id"] for img in conv.weak["images"]] == [2, 5]
    assert len(conv.strong["images"]) == 2  # the box set is written whatever the split
    assert list(conv.report.skipped.values()) == [["99999999_000.png"]]
    assert conv.report.counts["boxed images left out of the weak file (exclude_box_images)"] == 1


def test_chestxray14_scan_images_reads_sizes(tmp_path):
    bbox_rows = ["00000003_000.png,Mass,10,20,30,5"]
    root = write_cxr(tmp_path / "cxr", bbox_rows=bbox_rows)
    for i, index in enumerate(row.split(",")[0] for row in DATA_ENTRY_ROWS):
        save_png(str(tmp_path / "cxr" / f"images_00{i % 2 + 1}" / "images" / index), np.zeros((H, W + i)))
    conv = convert_chestxray14(root, scan_images=True)
    img = by_file(conv.strong)["images_001/images/00000003_000.png"][0]
    assert (img["width"], img["height"]) == (W + 2, H)
    os.remove(tmp_path / "cxr" / "images_002" / "images" / "00000004_000.png")
    with pytest.raises(ConversionError, match="image 00000004_000.png listed in the CSV was not found"):
        convert_chestxray14(root, scan_images=True)


@pytest.mark.parametrize(
    "entry_rows, bbox_rows, bbox_header, message",
    [
        (DATA_ENTRY_ROWS + ["00000006_000.png,Pneumonitis,0,6,1,M,PA,1,1,1,1,"], BBOX_ROWS, BBOX_HEADER,
         r"Data_Entry_2017.csv row 7: unknown finding label\(s\) \['Pneumonitis'\]"),
        (DATA_ENTRY_ROWS, BBOX_ROWS, "Image Index,Finding Label,x,y,w,h",
         r"BBox_List_2017.csv: header starts .* expected"),
        (DATA_ENTRY_ROWS, BBOX_ROWS + ["00000009_000.png,Mass,1,2,3,4"], BBOX_HEADER,
         r"BBox_List_2017.csv row 5: 00000009_000.png is not in"),
        (DATA_ENTRY_ROWS, ["00000003_000.png,Mass,1,2,0,4"], BBOX_HEADER,
         r"BBox_List_2017.csv row 2: box .* non-positive"),
        (DATA_ENTRY_ROWS, ["00000003_000.png,Mass,1,2,three,4"], BBOX_HEADER,
         r"BBox_List_2017.csv row 2: box .* is not numeric"),
    ],
)
def test_chestxray14_bad_inputs(tmp_path, entry_rows, bbox_rows, bbox_header, message):
    root = write_cxr(tmp_path / "cxr", entry_rows, bbox_rows, bbox_header)
    with pytest.raises(ConversionError, match=message):
        convert_chestxray14(root)


# ------------------------------------------------------------------------------------- UDIAT Dataset B
@pytest.fixture
def udiat_root(tmp_path):
    root = tmp_path / "DatasetB"
    image = np.full((H, W), 60, dtype=np.uint8)
    for stem, mask in [("000001", rect_mask((3, 7, 4, 12))), ("000002", rect_mask((10, 20, 5, 35))),
                       ("000003", rect_mask((0, 29, 0, 39))), ("000005", rect_mask((1, 2, 1, 2)))]:
        save_png(str(root / "original" / f"{stem}.png"), image)
        save_png(str(root / "GT" / f"{stem}.png"), mask)
    (root / "DatasetB.csv").write_text("Image,Type,Diagnosis\n1,Benign,CYST\n000002,CANCER,IDC\n"
                                       "000003.png, Malignant ,ILC\n4,Benign,FA\n")
    return str(root)


def test_udiat_labels_and_boxes(udiat_root):
    conv = convert_udiat(udiat_root)
    strong = by_file(conv.strong)
    assert {k: (v[0]["pos_category_ids"], [a["bbox"] for a in v[1]]) for k, v in strong.items()} == {
        "original/000001.png": ([1], [[4, 3, 9, 5]]),
        "original/000002.png": ([2], [[5, 10, 31, 11]]),
        "original/000003.png": ([2], [[0, 0, 40, 30]]),
    }
    assert conv.weak["images"] == []
    assert conv.report.skipped == {
        f"no label in {os.path.join(udiat_root, 'DatasetB.csv')}": [
            os.path.join(udiat_root, "original", "000005.png")
        ],
        "labelled image not found in original/": [f"{os.path.join(udiat_root, 'DatasetB.csv')}: 000004"],
    }


def test_udiat_missing_mask_goes_weak(udiat_root):
    os.remove(os.path.join(udiat_root, "GT", "000002.png"))
    conv = convert_udiat(udiat_root)
    assert [(img["file_name"], img["pos_category_ids"]) for img in conv.weak["images"]] == [
        ("original/000002.png", [2])
    ]
    assert any("000002.png: lesion image has no mask file" in w for w in conv.report.warnings)


@pytest.mark.parametrize(
    "table, message",
    [
        ("Image,Type\n1,Benign\n2,Suspicious\n", r"labels.csv row 3: unknown type 'Suspicious'"),
        ("Image,Type\n1,Benign\n001,Benign\n", r"labels.csv row 3: image 000001 is listed again"),
        ("Name,Class\n1,Benign\n", r"labels.csv: needs the columns 'Image' and 'Type'"),
    ],
)
def test_udiat_bad_label_tables(udiat_root, tmp_path, table, message):
    (tmp_path / "labels.csv").write_text(table)
    with pytest.raises(ConversionError, match=message):
        convert_udiat(udiat_root, labels_file=str(tmp_path / "labels.csv"))


def test_udiat_layout_errors(udiat_root, tmp_path):
    os.remove(os.path.join(udiat_root, "DatasetB.csv"))
    with pytest.raises(ConversionError, match="no label file"):
        convert_udiat(udiat_root)
    with pytest.raises(ConversionError, match=r"GT: folder not found"):
        convert_udiat(str(tmp_path / "original"))


def test_udiat_xlsx_without_openpyxl_asks_for_csv(udiat_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes ``import openpyxl`` fail
    (tmp_path / "DatasetB.xlsx").write_bytes(b"PK")
    message = r"DatasetB.xlsx: reading .xlsx needs the openpyxl package.*CSV"
    with pytest.raises(ConversionError, match=message):
        convert_udiat(udiat_root, labels_file=str(tmp_path / "DatasetB.xlsx"))


def test_udiat_xlsx_with_openpyxl(udiat_root, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    for row in [("Image", "Type"), (1, "Benign"), (2.0, "Malignant"), (3, "CANCER"), (None, None)]:
        workbook.active.append(row)
    workbook.save(tmp_path / "DatasetB.xlsx")
    conv = convert_udiat(udiat_root, labels_file=str(tmp_path / "DatasetB.xlsx"))
    assert [img["pos_category_ids"] for img in conv.strong["images"]] == [[1], [2], [2]]


# ------------------------------------------------------------------------- nothing lost, found early
@pytest.mark.parametrize(
    "weak_name", ["s.json", "./s.json", "sub/../s.json", "link.json"],
    ids=["same", "dot", "dotdot", "symlink"],
)
def test_cli_refuses_one_file_for_both_outputs(busi_root, tmp_path, weak_name):
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "s.json", tmp_path / "link.json")
    code, _, error = run_cli(["busi", "--input", busi_root, "--output-json", "s.json", "--weak-output-json", weak_name],
                             cwd=str(tmp_path))
    assert code == 1
    assert "the strong output s.json and the weak output" in error
    assert not (tmp_path / "s.json").exists()


def test_cli_refuses_to_overwrite_an_input(udiat_root, tmp_path):
    labels = os.path.join(udiat_root, "DatasetB.csv")
    before = open(labels).read()
    code, _, error = run_cli(["udiat", "--input", udiat_root, "--output-json", labels])
    assert code == 1
    assert f"the strong output {labels} is the input {labels}" in error
    assert open(labels).read() == before


def test_busi_mask_like_names_never_become_images(busi_root):
    for name in ("benign (2)_mask_x.png", "benign (2)_Mask3.png"):
        save_png(os.path.join(busi_root, "benign", name), rect_mask((10, 12, 10, 12)))
    strong = by_file(convert_busi(busi_root).strong)
    assert not [name for name in strong if "mask" in name.lower()]
    assert sorted(a["bbox"] for a in strong["benign/benign (2).png"][1]) == [
        [3, 2, 6, 5], [10, 10, 3, 3], [10, 10, 3, 3], [30, 20, 8, 6]
    ]


def test_busi_truncated_image_reported_at_conversion(busi_root):
    path = os.path.join(busi_root, "malignant", "malignant (2).png")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) - 30])
    with pytest.raises(ConversionError, match=r"malignant \(2\)\.png: cannot read the image \("):
        convert_busi(busi_root)


def test_busi_image_beyond_the_pixel_limit_reported(busi_root):
    with open(os.path.join(busi_root, "normal", "normal (3).png"), "wb") as f:
        f.write(png_header(30000, 10000))
    with pytest.raises(ConversionError, match=r"normal \(3\)\.png: cannot read the image \(30000x10000 = "
                       r"300000000 pixels, more than the limit"):
        convert_busi(busi_root)


def test_busi_image_linked_from_outside_reported(busi_root, tmp_path):
    save_png(str(tmp_path / "elsewhere" / "scan.png"), np.zeros((H, W)))
    os.symlink(tmp_path / "elsewhere" / "scan.png", os.path.join(busi_root, "normal", "normal (3).png"))
    with pytest.raises(ConversionError, match=r"normal \(3\)\.png: links to .*scan\.png, outside the dataset "
                       "folder"):
        convert_busi(busi_root)


def test_chestxray14_nan_box_refused(tmp_path):
    root = write_cxr(tmp_path / "cxr", bbox_rows=["00000003_000.png,Mass,nan,20,30,40"])
    with pytest.raises(ConversionError, match=r"row 2: box .* is not numeric \(4 finite numbers\)"):
        convert_chestxray14(root)

"""Loading and validating COCO JSON with image-level labels."""
import os

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from conftest import unique_name
from wsdet.data import DatasetFormatError, load_wsdet_coco_json, register_wsdet_coco


def test_strong_dataset_dicts(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True, num_images=4)
    name = unique_name("strong")
    dicts = load_wsdet_coco_json(json_file, root, name)
    assert [d["supervision"] for d in dicts] == ["strong"] * 4
    assert [d["image_labels"] for d in dicts] == [[], [0], [1], []]
    assert [d["neg_image_labels"] for d in dicts] == [[0, 1], [1], [0], [0, 1]]
    assert dicts[0]["annotations"] == []  # normal image kept, with no boxes
    ann = dicts[2]["annotations"][0]
    assert ann["category_id"] == 1 and ann["bbox_mode"] == BoxMode.XYWH_ABS
    assert ann["bbox"] == [10.0, 12.0, 20.0, 16.0]
    assert os.path.isabs(dicts[0]["file_name"]) and os.path.isfile(dicts[0]["file_name"])
    meta = MetadataCatalog.get(name)
    assert meta.thing_classes == ["benign", "malignant"]
    assert meta.thing_dataset_id_to_contiguous_id == {1: 0, 2: 1}


def test_weak_dataset_inferred_and_has_no_annotations(tiny_coco):
    json_file, root, _ = tiny_coco(strong=False, num_images=3)
    dicts = load_wsdet_coco_json(json_file, root)
    assert [d["supervision"] for d in dicts] == ["weak"] * 3
    assert all("annotations" not in d for d in dicts)
    assert [d["image_labels"] for d in dicts] == [[], [0], [1]]


def test_strong_labels_derived_from_boxes_when_absent(tiny_coco):
    def drop_labels(coco):
        for img in coco["images"]:
            del img["pos_category_ids"]

    json_file, root, _ = tiny_coco(strong=True, mutate=drop_labels)
    dicts = load_wsdet_coco_json(json_file, root)
    assert [d["image_labels"] for d in dicts] == [[], [0], [1], []]


def test_explicit_negative_labels(tiny_coco):
    def partial_negatives(coco):
        coco["images"][0]["neg_category_ids"] = [2]

    json_file, root, _ = tiny_coco(strong=False, mutate=partial_negatives)
    dicts = load_wsdet_coco_json(json_file, root)
    assert dicts[0]["neg_image_labels"] == [1]


def _expect_problem(tiny_coco, mutate, fragment, strong=True):
    json_file, root, _ = tiny_coco(strong=strong, mutate=mutate)
    with pytest.raises(DatasetFormatError) as info:
        load_wsdet_coco_json(json_file, root)
    message = str(info.value)
    assert json_file in message
    assert fragment in message, message
    return message


def test_error_unknown_category_in_annotation(tiny_coco):
    def bad(coco):
        coco["annotations"][0]["category_id"] = 7

    message = _expect_problem(tiny_coco, bad, "unknown category_id 7")
    assert "image 2 (img_1.png)" in message


def test_error_unknown_category_in_image_labels(tiny_coco):
    def bad(coco):
        coco["images"][1]["pos_category_ids"] = [9]

    _expect_problem(tiny_coco, bad, "'pos_category_ids' has unknown category id(s) [9]", strong=False)


def test_error_weak_image_without_labels(tiny_coco):
    def bad(coco):
        del coco["images"][2]["pos_category_ids"]

    _expect_problem(tiny_coco, bad, "image 3 (img_2.png): weakly labelled image has no", strong=False)


def test_error_labels_contradict_boxes(tiny_coco):
    def bad(coco):
        coco["images"][1]["pos_category_ids"] = [2]

    _expect_problem(tiny_coco, bad, "pos_category_ids [2] contradict the boxes' categories [1]")


def test_error_normal_label_on_image_with_box(tiny_coco):
    def bad(coco):
        coco["images"][2]["pos_category_ids"] = []

    _expect_problem(tiny_coco, bad, "image 3 (img_2.png): pos_category_ids [] contradict")


def test_error_box_outside_image(tiny_coco):
    def bad(coco):
        coco["annotations"][0]["bbox"] = [70.0, 10.0, 20.0, 10.0]

    _expect_problem(tiny_coco, bad, "lies outside the 80x64 image")


def test_error_box_non_positive_size(tiny_coco):
    def bad(coco):
        coco["annotations"][1]["bbox"] = [10.0, 10.0, 0.0, 5.0]

    _expect_problem(tiny_coco, bad, "has non-positive size")


def test_error_duplicate_image_ids(tiny_coco):
    def bad(coco):
        coco["images"][3]["id"] = 1

    _expect_problem(tiny_coco, bad, "image id 1 is used by 2 images")


def test_error_duplicate_annotation_ids(tiny_coco):
    def bad(coco):
        coco["annotations"][1]["id"] = coco["annotations"][0]["id"]

    _expect_problem(tiny_coco, bad, "annotation id 1 is used 2 times")


def test_error_duplicate_category_ids(tiny_coco):
    def bad(coco):
        coco["categories"].append({"id": 2, "name": "again"})

    _expect_problem(tiny_coco, bad, "category id 2 is listed 2 times")


def test_error_missing_image_file(tiny_coco):
    def bad(coco):
        coco["images"][0]["file_name"] = "missing.png"

    _expect_problem(tiny_coco, bad, "image file not found")


def test_error_file_name_escapes_root(tiny_coco):
    def bad(coco):
        coco["images"][0]["file_name"] = "../strong.json"

    _expect_problem(tiny_coco, bad, "points outside the image root")


def test_error_annotation_for_unknown_image(tiny_coco):
    def bad(coco):
        coco["annotations"][0]["image_id"] = 99

    _expect_problem(tiny_coco, bad, "annotation 1: unknown image_id 99")


def test_error_positive_and_negative_overlap(tiny_coco):
    def bad(coco):
        coco["images"][1]["neg_category_ids"] = [1]

    _expect_problem(tiny_coco, bad, "both in pos_category_ids and neg_category_ids", strong=False)


def test_all_problems_reported_at_once(tiny_coco):
    def bad(coco):
        coco["images"][0]["file_name"] = "missing.png"
        coco["annotations"][0]["bbox"] = [10.0, 10.0, -1.0, 5.0]

    message = _expect_problem(tiny_coco, bad, "2 problem(s)")
    assert "image file not found" in message and "non-positive size" in message


def test_error_invalid_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        load_wsdet_coco_json(str(path), str(tmp_path))


def test_register_wsdet_coco_lazy_and_explicit_supervision(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    name = unique_name("as_weak")
    register_wsdet_coco(name, json_file, root, supervision="weak")
    assert MetadataCatalog.get(name).evaluator_type == "wsdet"
    dicts = DatasetCatalog.get(name)
    assert {d["supervision"] for d in dicts} == {"weak"}
    assert len(dicts[1]["annotations"]) == 1  # boxes are kept for evaluation
    with pytest.raises(ValueError, match="supervision must be one of"):
        register_wsdet_coco(unique_name("bad"), json_file, root, supervision="boxes")



# ------------------------------------------------------------------------- types and silent acceptance


def _set(path, value):
    """A mutation setting ``coco[path[0]][path[1]]...`` to ``value``."""

    def mutate(coco):
        node = coco
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _append(section, value):
    return lambda coco: coco[section].append(value)


def _delete(section, index, key):
    return lambda coco: coco[section][index].pop(key)


BOX = "'bbox' must be [x, y, width, height]: 4 finite numbers, got "
IDS = "must be a list of integer category ids, got "
FILE = "'file_name' must be a non-empty path without NUL characters"


@pytest.mark.parametrize(
    "mutate, fragment, strong",
    [
        pytest.param(_set(["images"], {"a": 1}), "'images' must be a list of objects, got {\"a\": 1}", True,
                     id="images-dict"),
        pytest.param(_set(["images"], None), "'images' must be a list of objects, got null", True,
                     id="images-null"),
        pytest.param(_set(["annotations"], {"1": {}}), "'annotations' must be a list of objects", True,
                     id="annotations-dict"),
        pytest.param(_set(["annotations"], None), "'annotations' must be a list of objects, got null", True,
                     id="annotations-null"),
        pytest.param(_append("images", 5), "images[4] must be an object, got 5", True,
                     id="image-not-object"),
        pytest.param(_append("annotations", "box"), "annotations[2] must be an object, got \"box\"", True,
                     id="annotation-not-object"),
        pytest.param(_append("categories", "normal"), "categories[2] must be an object, got \"normal\"",
                     True, id="category-not-object"),
        pytest.param(_set(["images", 0, "id"], [1]),
                     "images[0] (img_0.png): 'id' must be an integer, got [1]", True, id="image-id-list"),
        pytest.param(_delete("images", 0, "id"), "images[0] (img_0.png): no 'id'", True,
                     id="image-id-missing"),
        pytest.param(_set(["images", 1, "id"], True),
                     "images[1] (img_1.png): 'id' must be an integer, got true", True, id="image-id-bool"),
        pytest.param(_set(["images", 1, "pos_category_ids"], [[1]]),
                     f"image 2 (img_1.png): 'pos_category_ids' {IDS}[[1]]", False, id="labels-nested"),
        pytest.param(_set(["images", 1, "pos_category_ids"], [True]),
                     f"image 2 (img_1.png): 'pos_category_ids' {IDS}[true]", False, id="labels-bool"),
        pytest.param(_set(["images", 0, "neg_category_ids"], "2"), f"'neg_category_ids' {IDS}\"2\"", False,
                     id="negatives-string"),
        pytest.param(_set(["annotations", 0, "bbox"], ["a", 1, 2, 3]),
                     f"annotation 1 of image 2: {BOX}[\"a\", 1, 2, 3]", True, id="bbox-string"),
        pytest.param(_set(["annotations", 0, "bbox"], None), f"{BOX}null", True, id="bbox-null"),
        pytest.param(_set(["annotations", 0, "bbox", 2], 10**400), f"{BOX}[10.0, 12.0, 1000", True,
                     id="bbox-overflow"),
        pytest.param(_set(["annotations", 0, "bbox", 0], float("nan")),
                     f"annotation 1 of image 2: {BOX}[NaN, 12.0, 20.0, 16.0]", True, id="bbox-nan"),
        pytest.param(_set(["annotations", 1, "bbox", 3], float("inf")), f"{BOX}[10.0, 12.0, 20.0, Infinity]",
                     True, id="bbox-infinite"),
        pytest.param(_set(["annotations", 0, "bbox"], [True, 12.0, 20.0, 16.0]), f"{BOX}[true, 12.0", True,
                     id="bbox-bool"),
        pytest.param(_set(["annotations", 0, "bbox"], [10.0, 12.0, 20.0]), f"{BOX}[10.0, 12.0, 20.0]", True,
                     id="bbox-three-values"),
        pytest.param(_set(["annotations", 0, "iscrowd"], "no"),
                     "annotation 1 of image 2: 'iscrowd' must be 0 or 1, got \"no\"", True,
                     id="iscrowd-string"),
        pytest.param(_set(["annotations", 0, "category_id"], "1"),
                     "'category_id' must be an integer, got \"1\"", True, id="category-id-string"),
        pytest.param(_delete("annotations", 0, "image_id"), "annotation 1: no 'image_id'", True,
                     id="annotation-image-id-missing"),
        pytest.param(_set(["images", 0, "width"], True),
                     "image 1 (img_0.png): 'width' must be a positive integer, got true", True,
                     id="width-bool"),
        pytest.param(_set(["images", 0, "height"], 64.0), "'height' must be a positive integer, got 64.0",
                     True, id="height-float"),
        pytest.param(_set(["images", 0, "file_name"], "img_0.png\0.txt"),
                     f"image 1 ('img_0.png\\x00.txt'): {FILE}", True, id="file-name-nul"),
        pytest.param(_set(["images", 0, "file_name"], 7), f"{FILE}, got 7", True, id="file-name-number"),
        pytest.param(_set(["categories", 1, "id"], None), "categories[1]: 'id' must be an integer, got null",
                     True, id="category-id-null"),
        pytest.param(_set(["categories", 1, "name"], "benign"),
                     "category name 'benign' is used by categories [1, 2]", True,
                     id="duplicate-category-names"),
        pytest.param(_append("images", {"id": 9, "file_name": "img_0.png", "height": 64, "width": 80,
                                        "pos_category_ids": [2]}),
                     "img_0.png is listed by images 1, 9 with different labels or boxes", False,
                     id="file-listed-twice-with-other-labels"),
    ],
)
def test_error_bad_types_and_values(tiny_coco, mutate, fragment, strong):
    _expect_problem(tiny_coco, mutate, fragment, strong=strong)


def test_every_type_problem_reported_at_once(tiny_coco):
    def bad(coco):
        coco["images"][0]["width"] = "80"
        coco["images"].append(None)
        coco["annotations"][0]["bbox"] = [float("nan")] * 4
        coco["annotations"][1]["iscrowd"] = 2
        coco["categories"][0]["name"] = ""

    message = _expect_problem(tiny_coco, bad, "5 problem(s)")  # and no follow-on problem
    for fragment in ("'width'", "images[4]", "'bbox'", "'iscrowd'", "'name'"):
        assert fragment in message


def test_file_listed_twice_with_the_same_labels_is_warned_about(tiny_coco, caplog):
    json_file, root, _ = tiny_coco(strong=False, mutate=_append(
        "images", {"id": 9, "file_name": "img_0.png", "height": 64, "width": 80, "pos_category_ids": []}
    ))
    with caplog.at_level("WARNING", logger="wsdet.data.coco_image_labels"):
        dicts = load_wsdet_coco_json(json_file, root)
    assert len(dicts) == 5
    assert "img_0.png is listed by images 1, 9: it is used 2 times as often" in caplog.text


def test_background_boxes_are_loaded(tiny_coco):
    def add(coco):
        coco["images"][0]["background_boxes"] = [[0, 0, 40, 64], [50.5, 2, 10, 10]]

    json_file, root, _ = tiny_coco(strong=True, mutate=add)
    dicts = load_wsdet_coco_json(json_file, root)
    assert dicts[0]["background_boxes"] == [[0.0, 0.0, 40.0, 64.0], [50.5, 2.0, 10.0, 10.0]]
    assert "background_boxes" not in dicts[1]


@pytest.mark.parametrize(
    "boxes, message",
    [
        ([[0, 0, 90, 10]], "background box: bbox [0, 0, 90, 10] lies outside the 80x64 image"),
        ([[0, 0, 0, 10]], "background box: bbox [0, 0, 0, 10] has non-positive size"),
        ([[0, 0, float("nan"), 10]], "'background_boxes' must be a list of [x, y, width, height] boxes"),
        ([0, 0, 10, 10], "'background_boxes' must be a list of [x, y, width, height] boxes"),
    ],
)
def test_error_bad_background_boxes(tiny_coco, boxes, message):
    def bad(coco):
        coco["images"][1]["background_boxes"] = boxes

    _expect_problem(tiny_coco, bad, message)

"""Image reading: PNG/JPEG through PIL as Detectron2, DICOM on pydicom's shipped test files."""
import os
import pickle
import shutil

import cv2
import numpy as np
import pydicom
import pytest
from detectron2.config import get_cfg
from detectron2.data.detection_utils import read_image as d2_read_image
from PIL import Image
from pydicom.data import get_testdata_files
from pydicom.pixels import get_decoder
from pydicom.uid import JPEG2000Lossless

from png_bytes import png_header
from wsdet import add_wsdet_config
from wsdet.data.image_io import (
    ImageReadError,
    ImageReadOptions,
    is_dicom,
    load_pil,
    read_dicom,
    read_image,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def shipped(name: str) -> str:
    """Path of a test file shipped with pydicom (never downloaded)."""
    matches = [p for p in get_testdata_files() if p.replace(os.sep, "/").endswith("/" + name)]
    assert len(matches) == 1, f"{name} is not shipped with this pydicom"
    return matches[0]


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


# ---------------------------------------------------------------- PIL formats


def test_png_matches_cv2(tmp_path):
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    path = str(tmp_path / "colour.png")
    cv2.imwrite(path, bgr)
    np.testing.assert_array_equal(read_image(path, "BGR"), cv2.imread(path, cv2.IMREAD_COLOR))
    np.testing.assert_array_equal(read_image(path, "RGB"), bgr[:, :, ::-1])
    grey = read_image(path, "L")
    assert grey.shape == (20, 30, 1) and grey.dtype == np.uint8
    expected = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert np.abs(grey[:, :, 0].astype(int) - expected).max() <= 1


def test_grey_png_gives_three_equal_channels(tmp_path):
    grey = np.arange(20 * 30, dtype=np.uint16).reshape(20, 30).astype(np.uint8)
    path = str(tmp_path / "grey.png")
    cv2.imwrite(path, grey)
    image = read_image(path, "BGR")
    assert image.shape == (20, 30, 3)
    for c in range(3):
        np.testing.assert_array_equal(image[:, :, c], grey)


def test_16bit_png_is_min_max_scaled(tmp_path):
    values = np.linspace(1000, 3000, 20 * 30).reshape(20, 30).astype(np.uint16)
    path = str(tmp_path / "deep.png")
    cv2.imwrite(path, values)
    image = read_image(path, "L")[:, :, 0]
    expected = np.rint((values.astype(np.float64) - 1000) / 2000 * 255).astype(np.uint8)
    np.testing.assert_array_equal(image, expected)


def test_jpeg_exif_orientation_as_detectron2(tmp_path):
    rgb = np.zeros((16, 40, 3), dtype=np.uint8)
    rgb[:, :10] = (255, 0, 0)
    path = str(tmp_path / "rotated.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    Image.fromarray(rgb).save(path, exif=exif.tobytes(), quality=95)
    for fmt in ("BGR", "RGB", "L"):
        image = read_image(path, fmt)
        assert image.shape[:2] == (40, 16)
        np.testing.assert_array_equal(image, d2_read_image(path, fmt))


# ---------------------------------------------------------------- DICOM detection


def test_is_dicom_by_extension_or_magic(tmp_path):
    no_extension = tmp_path / "IM000001"
    shutil.copy(shipped("CT_small.dcm"), no_extension)
    png = tmp_path / "image.png"
    cv2.imwrite(str(png), np.zeros((4, 4), np.uint8))
    assert is_dicom(shipped("CT_small.dcm"))
    assert is_dicom(str(tmp_path / "missing.DCM"))
    assert is_dicom(str(no_extension))
    assert not is_dicom(str(png))
    assert not is_dicom(str(tmp_path / "missing"))


def test_extensionless_dicom_is_read_as_dicom(tmp_path):
    no_extension = str(tmp_path / "IM000001")
    shutil.copy(shipped("CT_small.dcm"), no_extension)
    image = read_image(no_extension, "BGR")
    np.testing.assert_array_equal(image, read_image(shipped("CT_small.dcm"), "BGR"))


# ---------------------------------------------------------------- DICOM greyscale


def test_ct_modality_lut_and_explicit_window():
    path = shipped("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    center, width = 40.0, 400.0
    image = read_dicom(path, window=(center, width))
    expected = np.clip((hu - (center - width / 2)) / width, 0, 1) * 255
    assert np.abs(image - expected).max() <= 0.5 + 1e-6
    assert image.min() == 0 and image.max() == 255  # the window clips on both sides here


def test_signed_16bit_without_voi_is_min_max():
    path = shipped("CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PixelRepresentation == 1 and "WindowCenter" not in ds
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    expected = np.rint((hu - hu.min()) / (hu.max() - hu.min()) * 255)
    np.testing.assert_array_equal(read_dicom(path), expected)


def test_file_window_is_applied():
    path = shipped("MR_small.dcm")
    ds = pydicom.dcmread(path)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    x = ds.pixel_array.astype(np.float64)
    # DICOM PS3.3 C.11.2.1.2.1 (LINEAR)
    expected = np.clip((x - (center - 0.5)) / (width - 1) + 0.5, 0, 1) * 255
    image = read_dicom(path)
    assert np.abs(image - expected).max() <= 0.5 + 1e-6
    assert mean_abs_diff(image, read_dicom(path, window=(x.mean(), 10.0))) > 20


def test_8bit_greyscale_keeps_its_values(tmp_path):
    ds = pydicom.dcmread(shipped("JPEGLSNearLossless_08.dcm"))
    values = (ds.pixel_array // 2 + 10).astype(np.uint8)
    ds.set_pixel_data(values, "MONOCHROME2", 8)
    path = str(tmp_path / "eight_bit.dcm")
    ds.save_as(path)
    np.testing.assert_array_equal(read_dicom(path), values)


def test_monochrome1_is_inverted(tmp_path):
    source = shipped("77654033/CR1/6154")
    ds = pydicom.dcmread(source)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    ds.PhotometricInterpretation = "MONOCHROME2"
    as_monochrome2 = str(tmp_path / "cr_mono2.dcm")
    ds.save_as(as_monochrome2)
    image = read_dicom(source)
    assert image.max() > image.min()
    np.testing.assert_array_equal(image, 255 - read_dicom(as_monochrome2))


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
    ],
)
def test_lossless_transfer_syntaxes_agree(name):
    np.testing.assert_array_equal(read_dicom(shipped(name)), read_dicom(shipped("MR_small.dcm")))


def test_grey_dicom_formats():
    path = shipped("MR_small.dcm")
    grey = read_dicom(path)
    assert grey.ndim == 2 and grey.dtype == np.uint8
    bgr = read_image(path, "BGR")
    assert bgr.shape == grey.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(bgr[:, :, c], grey)
    np.testing.assert_array_equal(read_image(path, "L")[:, :, 0], grey)


# ---------------------------------------------------------------- DICOM colour


def test_rgb_dicom_formats():
    path = shipped("SC_rgb_rle.dcm")
    rgb = read_dicom(path)
    assert rgb.shape == (100, 100, 3)
    np.testing.assert_array_equal(rgb[5, 5], [255, 0, 0])
    np.testing.assert_array_equal(read_image(path, "RGB"), rgb)
    np.testing.assert_array_equal(read_image(path, "BGR"), rgb[:, :, ::-1])
    assert read_image(path, "L").shape == (100, 100, 1)


@pytest.mark.parametrize("name", ["SC_rgb_rle_16bit.dcm", "SC_rgb_rle_32bit.dcm"])
def test_deep_rgb_scaled_to_8bit(name):
    image = read_dicom(shipped(name))
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, read_dicom(shipped("SC_rgb_rle.dcm")))


@pytest.mark.parametrize("name", ["SC_ybr_full_422_uncompressed.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm"])
def test_ybr_converted_to_rgb(name):
    path = shipped(name)
    assert pydicom.dcmread(path).PhotometricInterpretation == "YBR_FULL_422"
    reference = read_dicom(shipped("SC_rgb_rle.dcm"))
    raw_ybr = pydicom.pixels.pixel_array(path, raw=True)
    assert mean_abs_diff(raw_ybr, reference) > 50
    assert mean_abs_diff(read_dicom(path), reference) < 3


def test_jpeg2000_colour_matches_rgb_sample():
    image = read_dicom(shipped("examples_jpeg2k.dcm"))  # the RGB sample at twice its size
    reference = read_dicom(shipped("examples_rgb_color.dcm"))
    assert image.shape == (480, 640, 3)
    downsampled = image.reshape(240, 2, 320, 2, 3).mean(axis=(1, 3))
    assert mean_abs_diff(downsampled, reference) < 3


def test_palette_colour():
    path = shipped("examples_palette.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "PALETTE COLOR"
    indices = ds.pixel_array
    channels = [
        ds.RedPaletteColorLookupTableData,
        ds.GreenPaletteColorLookupTableData,
        ds.BluePaletteColorLookupTableData,
    ]
    expected = np.stack(
        [np.frombuffer(data, dtype="<u2")[indices] / 65535 * 255 for data in channels], axis=-1
    )
    image = read_dicom(path)
    assert image.shape == indices.shape + (3,)
    np.testing.assert_array_equal(image, np.rint(expected))
    assert (image[..., 0] != image[..., 2]).mean() > 0.05  # really coloured


# ---------------------------------------------------------------- frames


def test_frame_selection():
    path = shipped("SC_rgb_rle_2frame.dcm")
    first, second = read_dicom(path, frame=0), read_dicom(path, frame=1)
    np.testing.assert_array_equal(first, read_dicom(shipped("SC_rgb_rle.dcm")))
    np.testing.assert_array_equal(second, 255 - first)
    ybr = shipped("examples_ybr_color.dcm")
    assert mean_abs_diff(read_image(ybr, dicom_frame=0), read_image(ybr, dicom_frame=29)) > 1


@pytest.mark.parametrize(
    "name,frame,message",
    [
        ("examples_ybr_color.dcm", 30, "frame 30 requested but file has 30 frames"),
        ("CT_small.dcm", 1, "frame 1 requested but file has 1 frame"),
        ("CT_small.dcm", -1, "frame -1 requested"),
    ],
)
def test_frame_out_of_range(name, frame, message):
    with pytest.raises(ImageReadError, match=message) as info:
        read_dicom(shipped(name), frame=frame)
    assert shipped(name) in str(info.value)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["missing.dcm", "missing.png", "missing"])
def test_missing_file(tmp_path, name):
    path = str(tmp_path / name)
    with pytest.raises(ImageReadError, match="file not found") as info:
        read_image(path)
    assert path in str(info.value) and info.value.path == path
    assert isinstance(info.value, OSError)


def test_truncated_encapsulated_dicom(tmp_path):
    data = open(shipped("examples_ybr_color.dcm"), "rb").read()
    path = str(tmp_path / "IM000002")  # no extension: found by its preamble
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="file is truncated") as info:
        read_image(path)
    assert path in str(info.value)


def test_truncated_native_dicom(tmp_path):
    data = open(shipped("CT_small.dcm"), "rb").read()
    path = str(tmp_path / "IM000003.dcm")
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="less than expected") as info:
        read_image(path)
    assert path in str(info.value)


def test_shipped_truncated_dicom():
    with pytest.raises(ImageReadError, match="MR_truncated.dcm"):
        read_dicom(shipped("MR_truncated.dcm"))


def test_dicom_extension_but_not_dicom(tmp_path):
    path = str(tmp_path / "garbage.dcm")
    with open(path, "wb") as f:
        f.write(os.urandom(300))
    with pytest.raises(ImageReadError, match="not a valid DICOM file"):
        read_image(path)


def test_dicom_without_pixel_data():
    with pytest.raises(ImageReadError, match="rtplan.dcm: no pixel data"):
        read_image(shipped("rtplan.dcm"))


def test_undecodable_dicom():
    path = shipped("JPEG-lossy.dcm")  # 12-bit JPEG: neither pylibjpeg nor Pillow decodes it
    with pytest.raises(ImageReadError, match="JPEG Extended .* cannot be decoded") as info:
        read_dicom(path)
    assert path in str(info.value)


def test_missing_decoder_plugin(monkeypatch):
    monkeypatch.setattr(get_decoder(JPEG2000Lossless), "_available", {})
    path = shipped("MR_small_jp2klossless.dcm")
    with pytest.raises(ImageReadError, match="JPEG 2000 .* cannot be decoded: install") as info:
        read_dicom(path)
    assert path in str(info.value)


@pytest.mark.parametrize("cut", [0.1, 0.9])
def test_corrupt_or_truncated_png(tmp_path, cut):
    source = str(tmp_path / "source.png")
    cv2.imwrite(source, np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = open(source, "rb").read()
    path = str(tmp_path / "broken.png")
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * cut)])
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert path in str(info.value)


def test_error_pickles():
    error = pickle.loads(pickle.dumps(ImageReadError("/a/b.dcm", "no pixel data")))
    assert isinstance(error, ImageReadError)
    assert (error.path, error.reason) == ("/a/b.dcm", "no pixel data")
    assert str(error) == "cannot read image /a/b.dcm: no pixel data"


@pytest.mark.parametrize("window", [(40.0,), (40.0, 0.0), (1.0, 2.0, 3.0)])
def test_invalid_window(window):
    with pytest.raises(ValueError, match="window"):
        read_dicom(shipped("CT_small.dcm"), window=window)


# ---------------------------------------------------------------- silent or unclear before


def test_image_beyond_the_pixel_limit(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(30000, 10000))  # beyond PIL's own limit too (179 MP)
    with pytest.raises(ImageReadError, match=r"30000x10000 = 300000000 pixels, more than the limit of "
                       r"268435456 \(config WSDET.MAX_IMAGE_PIXELS") as info:
        read_image(str(path))
    assert info.value.path == str(path)
    with pytest.raises(ImageReadError, match="more than the limit of 100 "):
        load_pil(str(path), max_pixels=100)


def test_pixel_limit_is_wsdets_not_pils(tmp_path):
    path = tmp_path / "large.png"
    path.write_bytes(png_header(15000, 15000))  # 225 MP: PIL alone refuses it, wsdet's default allows it
    with pytest.raises(ImageReadError, match="corrupt or unsupported image") as info:
        read_image(str(path))  # identified, then found truncated when decoded
    assert "more than the limit" not in str(info.value)
    with pytest.raises(ImageReadError, match="corrupt or unsupported image"):
        read_image(str(path), max_pixels=0)


def test_dicom_beyond_the_pixel_limit():
    with pytest.raises(ImageReadError, match="128x128 = 16384 pixels, more than the limit of 1000"):
        read_dicom(shipped("CT_small.dcm"), max_pixels=1000)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(dicom_frame=-1), "WSDET.DICOM.FRAME is -1; it must be >= 0"),
        (dict(dicom_window=(40.0, -400.0)), r"DICOM.WINDOW: a window is \(center, width\) with width > 0"),
        (dict(dicom_window=(40.0,)), "WSDET.DICOM.WINDOW"),
        (dict(max_pixels=-1), "WSDET.MAX_IMAGE_PIXELS is -1; it must be >= 0"),
    ],
)
def test_invalid_read_options_refused_when_built(options, message):
    with pytest.raises(ValueError, match=message):
        ImageReadOptions(**options)


def test_float_image_without_any_finite_pixel(tmp_path):
    path = str(tmp_path / "nan.tiff")
    Image.fromarray(np.full((8, 10), np.nan, np.float32), "F").save(path)
    with pytest.raises(ImageReadError, match=r"nan\.tiff: .*no pixel value is finite"):
        read_image(path)


def test_float_image_non_finite_pixels_scaled_over_the_finite_ones(tmp_path):
    values = np.linspace(0.0, 2.0, 8 * 10, dtype=np.float32).reshape(8, 10)
    values[0, :3] = (np.nan, np.inf, -np.inf)
    path = str(tmp_path / "partly_nan.tiff")
    Image.fromarray(values, "F").save(path)
    image = read_image(path, "L")[:, :, 0]
    assert image[0, :3].tolist() == [0, 255, 0]
    finite = values[1:]
    expected = np.rint((finite - values[0, 3]) / (finite.max() - values[0, 3]) * 255)
    np.testing.assert_array_equal(image[1:], expected)


def test_dicom_rescale_slope_zero_is_not_a_black_image(tmp_path):
    ds = pydicom.dcmread(shipped("CT_small.dcm"))
    ds.RescaleSlope = 0
    path = str(tmp_path / "slope0.dcm")
    ds.save_as(path)
    with pytest.raises(ImageReadError, match=r"slope0\.dcm: .*Rescale Slope 0.* maps every pixel to"):
        read_image(path)


def test_default_options_are_the_config_defaults():
    cfg = get_cfg()
    add_wsdet_config(cfg)
    assert ImageReadOptions.from_config(cfg) == ImageReadOptions()

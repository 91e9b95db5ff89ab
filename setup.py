"""Install wsdet: weakly supervised lesion detection on Detectron2.

Detectron2 and torch are installed by ``tools/setup_env.sh`` (Detectron2 publishes no PyPI package);
this file declares the pure-Python dependencies of wsdet itself.
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts: str) -> str:
    with open(os.path.join(HERE, *parts), encoding="utf-8") as f:
        return f.read()


def read_version() -> str:
    """``wsdet.__version__``, read from the source (importing wsdet needs Detectron2)."""
    match = re.search(r'^__version__ = "([^"]+)"', read("wsdet", "__init__.py"), re.MULTILINE)
    if match is None:
        raise RuntimeError("no __version__ in wsdet/__init__.py")
    return match.group(1)


setup(
    name="wsdet",
    version=read_version(),
    description="Weakly supervised lesion localization (MIL Faster R-CNN, CAM heads) for Detectron2",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",  # SPDX expression (setuptools >= 77 deprecates license classifiers)
    license_files=["LICENSE"],
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Science/Research",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Image Recognition",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
    ],
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["wsdet", "wsdet.*"]),
    install_requires=[
        "numpy",
        "fvcore",
        "pycocotools",
        "pydicom>=2.4",
        "opencv-python-headless>=4.5",
        "matplotlib",
        "tqdm",
        "scipy",
        "numba",  # compiles the contour sweep of MaxBoxAccV2 (wsdet/evaluation/contour_sweep.py)
    ],
    extras_require={
        # decoders for JPEG-lossless / JPEG-LS / JPEG 2000 DICOM transfer syntaxes
        "dicom": ["pylibjpeg>=2", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg"],
        # ONNX export (tools/export_model.py) and its check with onnxruntime
        "export": ["onnx", "onnxruntime"],
        "test": ["pytest>=7"],
    },
)

"""Install wsdet: weakly supervised lesion detection on Detectron2.

Detectron2 and torch are installed by ``tools/setup_env.sh`` (Detectron2 publishes no PyPI package);
this file declares the pure-Python dependencies of wsdet itself.
"""
from setuptools import find_packages, setup

setup(
    name="wsdet",
    version="0.1.0",
    description="Weakly supervised lesion localization (MIL Faster R-CNN, CAM heads) for Detectron2",
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
    ],
    extras_require={
        # decoders for JPEG-lossless / JPEG-LS / JPEG 2000 DICOM transfer syntaxes
        "dicom": ["pylibjpeg>=2", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg"],
        "test": ["pytest>=7"],
    },
)

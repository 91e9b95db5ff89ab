"""wsdet: weakly supervised lesion localization for Detectron2.

Importing this package registers every wsdet component in Detectron2's registries and the embedded
synthetic datasets in the DatasetCatalog.
"""
__version__ = "0.1.0"  # the one place of the version (setup.py reads it)

from .config import add_wsdet_config
from . import data  # noqa: F401  (registers the synthetic datasets)
from . import modeling  # noqa: F401  (registers meta-architectures and ROI heads)

__all__ = ["add_wsdet_config"]

"""wsdet: weakly supervised lesion localization for Detectron2.

Importing this package registers every wsdet component in Detectron2's registries and the embedded
synthetic datasets in the DatasetCatalog, after silencing the known third-party warnings that every run
would print (:mod:`wsdet.warning_filters`; import wsdet before Detectron2 to silence those raised at
Detectron2's import).
"""
__version__ = "0.1.0"  # the one place of the version (setup.py reads it)

from .warning_filters import filter_third_party_warnings

filter_third_party_warnings()

from .config import add_wsdet_config  # noqa: E402
from . import data  # noqa: E402,F401  (registers the synthetic datasets)
from . import modeling  # noqa: E402,F401  (registers meta-architectures and ROI heads)

__all__ = ["add_wsdet_config"]

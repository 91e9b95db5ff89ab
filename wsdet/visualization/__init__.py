"""Pictures of wsdet results: image overlays (boxes, heatmaps), PNG grids and FROC plots."""
from types import ModuleType as _ModuleType

from .curves import froc_band, plot_corloc_sweep, plot_froc
from .grids import make_grid, save_grid, write_png
from .overlays import (
    BACKGROUND_COLOR,
    CLASS_COLORS,
    GT_COLOR,
    MIN_DISPLAY_SIZE,
    class_color,
    colormap_lut,
    draw_boxes,
    draw_detections,
    overlay_heatmap,
    render_overlay,
    to_rgb,
)
from .text import LabelPlacer, append_legend

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]

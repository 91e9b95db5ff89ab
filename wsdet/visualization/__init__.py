"""Pictures of wsdet results: image overlays (boxes, heatmaps), PNG grids and FROC plots."""
from types import ModuleType as _ModuleType

from .curves import froc_band, plot_corloc_sweep, plot_froc
from .overlays import (
    CLASS_COLORS,
    GT_COLOR,
    colormap_lut,
    draw_boxes,
    draw_detections,
    make_grid,
    overlay_heatmap,
    render_overlay,
    save_grid,
    to_rgb,
    write_png,
)

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]

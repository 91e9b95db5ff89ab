"""Pictures of wsdet results: image overlays (boxes, heatmaps), PNG grids and FROC plots."""

from .curves import froc_band, plot_froc
from .overlays import (
    CLASS_COLORS,
    GT_COLOR,
    colormap_lut,
    draw_boxes,
    draw_detections,
    make_grid,
    normalize_heatmap,
    overlay_heatmap,
    render_overlay,
    save_grid,
    to_rgb,
    write_png,
)

__all__ = [
    "CLASS_COLORS",
    "GT_COLOR",
    "colormap_lut",
    "draw_boxes",
    "draw_detections",
    "froc_band",
    "make_grid",
    "normalize_heatmap",
    "overlay_heatmap",
    "plot_froc",
    "render_overlay",
    "save_grid",
    "to_rgb",
    "write_png",
]

"""Reporting: the per-round metrics, their tables and figures, and the HTML pages.

* Metrics: :func:`rare_f1`, :func:`n_rare`, ``metrics.csv`` (:func:`metrics_csv`,
  :func:`read_metrics`).
* Figures (plotly): Fig. 4 curves (:func:`curve_figure`), training loss, precision-recall,
  feature-space projections (:func:`uncentered_pca`, Fig. 6).
* Pages: :func:`write_report` (a comparison), :func:`gallery_html` (every candidate
  gallery), :func:`png_bytes` / :func:`png_data_uri` (every thumbnail).
"""

from ._figures import PALETTE, curve_figure, format_probability, loss_figure, mean_ci, summarize, use_page_plotlyjs
from ._html import gallery_html, png_bytes, png_data_uri
from ._metrics import METRIC_COLUMNS, metrics_csv, n_rare, rare_f1, read_metrics
from ._projections import pca_2d, project, projection_figure, umap_2d, uncentered_pca
from ._report import (
    auc_table,
    average_precision,
    comparison_table,
    format_table,
    html_table,
    pr_figure,
    precision_recall,
    ranking_hits,
    summary_table,
    write_report,
)
from ._theme import follow_notebook_theme, theme_css

__all__ = [
    "follow_notebook_theme",
    "theme_css",
    "METRIC_COLUMNS",
    "PALETTE",
    "auc_table",
    "average_precision",
    "comparison_table",
    "curve_figure",
    "format_probability",
    "format_table",
    "gallery_html",
    "html_table",
    "loss_figure",
    "mean_ci",
    "metrics_csv",
    "n_rare",
    "pca_2d",
    "png_bytes",
    "png_data_uri",
    "pr_figure",
    "precision_recall",
    "project",
    "projection_figure",
    "ranking_hits",
    "rare_f1",
    "read_metrics",
    "summarize",
    "summary_table",
    "umap_2d",
    "uncentered_pca",
    "use_page_plotlyjs",
    "write_report",
]

"""One figure style for the book, built on seaborn: light grid, colour-blind palette, readable sizes."""

from __future__ import annotations

#: matplotlib settings on top of seaborn's theme (saved figures are cropped to their content)
RC = {
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style() -> None:
    """Apply the book's figure style to every matplotlib figure drawn afterwards."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", rc=RC)

"""Small pieces of sp_prm_lib.experiments.prefix_analysis that need no trained model."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sp_prm_lib.report.plots import plot_curve


def test_plot_curve_draws_the_prefix_rows_with_a_band_in_the_line_colour():
    table = pd.DataFrame(
        {
            "metric": ["ar_rm_sc"] * 3 + ["reward_gap"],
            "rm": ["orm"] * 4,
            "t": [5.0, 10.0, np.nan, 5.0],
            "value": [0.6, 0.7, 0.8, 1.0],
            "ci_low": [0.5, 0.6, 0.7, 0.9],
            "ci_high": [0.7, 0.8, 0.9, 1.1],
        }
    )
    fig, ax = plt.subplots()
    line = plot_curve(ax, table, "ar_rm_sc", "orm", colour="tab:green")
    assert list(line.get_xdata()) == [5.0, 10.0]  # the full-response row (t NaN) is left out
    assert list(line.get_ydata()) == [0.6, 0.7] and line.get_label() == "orm"
    (band,) = ax.collections
    assert np.allclose(band.get_facecolor()[0][:3], matplotlib.colors.to_rgb("tab:green"))
    plt.close(fig)

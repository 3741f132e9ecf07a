"""The table and figure helpers of sp_prm_lib.report: tables for people, captioned figures."""

import numpy as np
import pandas as pd
import pytest

from sp_prm_lib.report.tables import readable_value, show_side_by_side, show_table


def _frame():
    return pd.DataFrame(
        {
            "method": ["tbs", "cbs"],
            "reward": [0.1234567, np.nan],
            "n": [8, 8],
            "meets": [True, None],
            "config": ['{"k": 4, "w": 2.5}', {"seed": 0}],
        }
    )


def test_no_index_rounding_units_and_caption():
    html = show_table(_frame(), units={"reward": "ORM score"}, caption="what to see").to_html()
    assert "row_heading" not in html and "blank level0" not in html
    assert "0.123" in html and "0.1234567" not in html
    assert "reward (ORM score)" in html and "<caption>what to see</caption>" in html
    assert ">yes<" in html and "–" in html


def test_configs_are_key_value_text():
    html = show_table(_frame()).to_html()
    assert "k=4, w=2.5" in html and "seed=0" in html and "{" not in html.split("<table")[1]
    assert readable_value({"a": [1, 2]}) == "a=1, 2"
    assert readable_value("{not json") == "{not json"


def test_named_index_becomes_a_column():
    html = show_table(pd.DataFrame({"v": [0.5]}, index=pd.Index([5], name="t"))).to_html()
    assert ">t<" in html and ">5<" in html


def test_side_by_side_keeps_each_scale_apart():
    side = pd.DataFrame({"method": ["tbs"], "reward paper": [2.5], "reward ours": [-0.4]})
    html = show_side_by_side(side).to_html()
    assert "reward paper (paper&#x27;s RM)" in html or "reward paper (paper's RM)" in html
    assert "reward ours (ORM score)" in html and "diff" not in html


@pytest.mark.parametrize(
    "bad, kwargs, message",
    [
        ([1, 2], {}, "expected a pandas DataFrame, got list"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), {}, "duplicate column names a"),
        (pd.DataFrame({"a": [1]}), {"units": {"b": "s"}}, "name b, not columns"),
    ],
)
def test_bad_input_gives_one_line_error(bad, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message) as err:
        show_table(bad, **kwargs)
    assert "\n" not in str(err.value)


def test_show_figure_rejects_a_non_figure():
    from sp_prm_lib.report.plots import show_figure

    with pytest.raises(TypeError, match="expected a matplotlib figure"):
        show_figure("not a figure", "fig-x")


def test_publish_figure_saves_the_figure_and_its_data_and_checks_data_first(tmp_path, monkeypatch):
    import types

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sp_prm_lib.report.plots import publish_figure

    monkeypatch.setenv("SP_PRM_HOME", str(tmp_path))
    profile = types.SimpleNamespace(name="smoke")
    folder = tmp_path / "figures" / "smoke"
    fig, ax = plt.subplots()
    with pytest.raises(TypeError, match="data must be a DataFrame or a mapping"):
        publish_figure(fig, "x_plot", profile, data=[1, 2])
    assert not folder.exists()  # nothing written before the data was checked
    table = pd.DataFrame({"t": [5, 10], "value": [0.5, 0.75]})
    path = publish_figure(fig, "x_plot", profile, data={"x_ours": table, "x_side": table.head(1)})
    assert path == folder / "x_plot.png" and path.stat().st_size > 0
    assert pd.read_csv(folder / "x_ours.csv").equals(table)
    assert len(pd.read_csv(folder / "x_side.csv")) == 1
    fig2, _ = plt.subplots()
    publish_figure(fig2, "y_plot", profile, data=table)  # one frame: <name>.csv
    assert pd.read_csv(folder / "y_plot.csv").equals(table)
    assert sorted(p.name for p in folder.iterdir()) == [
        "x_ours.csv",
        "x_plot.png",
        "x_side.csv",
        "y_plot.csv",
        "y_plot.png",
    ]
    assert not plt.fignum_exists(fig.number)  # shown and closed


def test_agreement_axis_labels_and_chance_line():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sp_prm_lib.report.plots import agreement_axis

    fig, (a, b) = plt.subplots(1, 2)
    agreement_axis(a, "title a")
    assert a.get_xlabel() == "prefix length t (tokens)" and a.get_ylabel() == "AR$_{RM-SC}$(t)"
    assert a.get_ylim() == (0.3, 1.0) and a.get_title() == "title a"
    assert [tuple(line.get_ydata()) for line in a.get_lines()] == [(0.5, 0.5)]  # chance
    b.plot([0, 1], [3, 4])
    before = b.get_ylim()
    agreement_axis(b, ylabel="gap", ylim=None, chance=False, unit="words")
    assert b.get_xlabel() == "prefix length t (words)" and b.get_ylim() == before and len(b.get_lines()) == 1
    plt.close(fig)


def test_as_run_labels_methods_as_run_and_keeps_the_paper_row_apart():
    import pandas as pd

    from sp_prm_lib.report.tables import as_run

    frame = pd.DataFrame({"method": ["base", "bon-16", "bon-64"], "ours": ["base", "bon-4", "bon-8"], "tie": [1, 2, 3]})
    out = as_run(frame)
    assert out.columns.tolist() == ["method", "paper row", "tie"]
    assert out["method"].tolist() == ["base", "bon-4", "bon-8"] and out["paper row"].tolist()[1:] == [
        "bon-16",
        "bon-64",
    ]
    assert as_run(out.drop(columns="paper row")).equals(out.drop(columns="paper row"))  # no ``ours``: unchanged

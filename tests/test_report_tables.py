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

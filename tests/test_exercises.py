"""The chapter exercises: the parser of their Markdown, and every chapter has 2-4 with solutions.
(The solutions themselves run in tests/test_notebooks.py, appended to their notebook.)"""

from pathlib import Path

import nbformat
import pytest

from sp_prm_lib.report.exercises import EXERCISES_TAG, parse_exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

GOOD = """## Exercises

::::{exercise}
:label: ex-99-one
Predict the value.
::::

::::{solution} ex-99-one
:class: dropdown

Some words first.

```python
x = 1
```

```python
assert x == 1
```
::::

:::{exercise}
:label: ex-99-two
A question without code in its answer.
:::

:::{solution} ex-99-two
:class: dropdown
Only words.
:::
"""


def test_parser_finds_labels_and_joins_the_python_blocks_of_a_solution():
    found = parse_exercises(GOOD)
    assert found.labels == ("ex-99-one", "ex-99-two")
    assert [s.label for s in found.solutions] == ["ex-99-one", "ex-99-two"]
    assert found.solutions[0].code == "x = 1\n\nassert x == 1"
    assert found.solutions[1].code == ""


def test_parser_ignores_blocks_in_other_languages():
    text = "::::{solution} ex-1\n```bash\nmake test\n```\n```python\nprint(1)\n```\n::::\n"
    assert parse_exercises(text).solutions[0].code == "print(1)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("::::{exercise}\n:label: a\nno end\n", "x.md:1: {exercise} block is not closed by '::::'"),
        ("intro\n:::{exercise}\nno label\n:::\n", "x.md:2: {exercise} without a :label:"),
        (":::{solution}\n```python\n1\n```\n:::\n", "x.md:1: {solution} names no exercise label"),
    ],
)
def test_parser_errors_name_the_place(text, message):
    with pytest.raises(ValueError) as err:
        parse_exercises(text, "x.md")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def _exercise_cells(path: Path) -> list:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if EXERCISES_TAG in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_ends_with_two_to_four_exercises_each_with_a_runnable_solution(path):
    cells = _exercise_cells(path)
    assert len(cells) == 1, f"{path.name}: expected one Markdown cell tagged {EXERCISES_TAG!r}"
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[-1] is not None and nb.cells[-1].source == cells[0].source, f"{path.name}: exercises come last"
    found = parse_exercises(cells[0].source, path.name)
    assert 2 <= len(found.labels) <= 4, f"{path.name}: {len(found.labels)} exercises"
    number = path.stem[:2]
    assert all(label.startswith(f"ex-{number}-") for label in found.labels), found.labels
    assert sorted(s.label for s in found.solutions) == sorted(found.labels), "one solution per exercise"
    assert all(s.code.strip() for s in found.solutions), f"{path.name}: every solution has Python code"


def test_exercise_labels_are_unique_across_the_book():
    labels = [label for p in NOTEBOOKS for c in _exercise_cells(p) for label in parse_exercises(c.source).labels]
    assert len(labels) == len(set(labels))

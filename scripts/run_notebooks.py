"""Execute numbered notebooks headless with papermill, in order, with caching.

A notebook is re-executed only when its content, the library source, the
profile file or the pinned requirements changed since its last successful
run. A failing notebook stops the run with exit code 1 and its name; its
partly executed copy is kept as ``<name>.failed.ipynb`` for inspection.
Executed copies land in ``build/executed/<profile>/`` and ``book/executed/``.

Without notebook arguments the profile's ``notebooks`` list is run (every
numbered notebook when it has none). With ``--with-lab``, the profile's gold
lab (its ``lab`` key) runs next, into ``book/executed/lab/``: the book's
second track.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.core.errors import SpPrmError
from sp_prm_lib.core.provenance import git_commit, load_average

ROOT = Path(__file__).resolve().parent.parent


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _inputs_hash(notebook: Path, profile_file: Path) -> str:
    """Hash of what a notebook's run depends on: itself, the profile, the pins and the whole library
    (code and package data such as the paper's values and the probe's script)."""
    h = hashlib.sha256()
    sources = [notebook, profile_file, ROOT / "requirements.txt"]
    sources += sorted(p for p in (ROOT / "sp_prm_lib").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in sources:
        h.update(_shown(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def describe_cell(cell) -> str | None:
    """A short label of a cell for the terminal: its first code or comment line; None for Markdown."""
    if cell.get("cell_type") != "code":
        return None
    for line in str(cell.get("source") or "").splitlines():
        text = line.strip().lstrip("#").strip()
        if text:
            return text if len(text) <= 48 else text[:47] + "…"
    return None


def _cell_progress_engine():
    """A papermill engine whose per-cell progress bar names the running cell (``describe_cell``).

    The bar is drawn by this process on its standard error, so it reaches the terminal and never the
    executed notebook; the library's own bars (training steps, decoding prompts) come from the kernel.
    """
    from papermill.engines import NBClientEngine

    class CellProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            total = len(nb_man.nb.cells)
            counter = {"n": 0}

            def label(cell, **_):
                counter["n"] += 1
                text = describe_cell(cell)
                name = Path(nb_man.output_path).name[:2]
                return None if text is None else f"{name} cell {counter['n']}/{total}: {text}"

            nb_man.get_cell_description = label  # papermill puts it after "Executing" in its bar
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return CellProgressEngine


def _listed_notebooks(profile) -> list[Path]:
    """The notebooks a profile names (its ``notebooks`` list, else every numbered notebook), unchecked."""
    if profile.notebooks is None:
        return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [ROOT / "notebooks" / f"{name}.ipynb" for name in profile.notebooks]


def profile_notebooks(profile) -> list[Path]:
    """The notebooks a profile runs: its ``notebooks`` list, else every numbered notebook."""
    paths = _listed_notebooks(profile)
    missing = [p.stem for p in paths if not p.is_file()]
    if missing:
        raise SpPrmError(f"{profile.path}: notebooks: no notebook {missing[0]!r} in notebooks/")
    return paths


def file_track(book_dir: Path, profile, notebooks: list[Path], timings: dict) -> dict:
    """Write the track's ``profile.json`` and drop the pages of notebooks the profile no longer runs.

    The book shows one profile's run: pages of the profile's notebooks that this call did not run
    (a run split over jobs, e.g. notebooks 00-06 then 07-13 on a cluster) are kept with their
    recorded timings, as long as they come from the same profile; any other page is removed."""
    listed = [p.stem for p in _listed_notebooks(profile)]
    wanted = {Path(nb).name for nb in notebooks} | {f"{name}.ipynb" for name in listed}
    before = {}
    try:
        old = json.loads((book_dir / "profile.json").read_text())
        if old.get("profile") == profile.name:
            before = {k: v for k, v in (old.get("timings") or {}).items() if f"{k}.ipynb" in wanted}
    except (OSError, ValueError):
        pass
    if not before:
        wanted = {Path(nb).name for nb in notebooks}
    for stale in book_dir.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    merged = {**before, **timings}
    order = listed
    merged = dict(sorted(merged.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    record = {"profile": profile.name, "path": str(profile.path), "timings": merged}
    (book_dir / "profile.json").write_text(json.dumps(record, indent=2))
    return record


def clear_track(book_dir: Path) -> None:
    """Remove a track's executed pages (a profile without a lab must not show an old lab run)."""
    for stale in [*book_dir.glob("*.ipynb"), book_dir / "profile.json"]:
        stale.unlink(missing_ok=True)


#: a figure's cross-reference label in a markdown cell (``:name: fig-02-ar-rm-sc``)
_LABEL = re.compile(r"^(\s*:name:\s*)(\S+)", re.MULTILINE)


def book_copy(executed: Path, dest: Path, keep_exercises: bool = True, label_prefix: str = "") -> None:
    """Copy an executed notebook into the book. The reader sees one parameter cell, the one that ran
    (papermill's injected cell, with the profile path relative to the repository) instead of the
    source's default above it; a second track (the gold lab) leaves out the chapter's exercises, which
    the book shows once, in the HH-RLHF track, and prefixes its figures' labels with ``label_prefix``
    (a label must be unique in the book)."""
    import nbformat

    from sp_prm_lib.report.exercises import EXERCISES_TAG

    nb = nbformat.read(executed, as_version=4)
    cells = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if EXERCISES_TAG in tags and not keep_exercises:
            continue
        if "parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if "injected-parameters" in tags:
            cell.source = cell.source.replace(f"{ROOT}{os.sep}", "")
        if label_prefix and cell.cell_type == "markdown":
            cell.source = _LABEL.sub(lambda m: m[1] + label_prefix + m[2], cell.source)
        cells.append(cell)
    nb.cells = cells
    tmp = dest.with_name(dest.name + ".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(dest)


CELL_PROGRESS = "sp-prm-cells"


def progress_bar(notebook: Path) -> dict | bool:
    """Papermill's per-cell bar on the terminal (off with ``SP_PRM_PROGRESS=0``, like the library's)."""
    if os.environ.get("SP_PRM_PROGRESS", "1") == "0":
        return False
    return {"desc": notebook.stem[:2], "file": sys.stderr, "ncols": 110, "mininterval": 1.0, "leave": False}


def run(notebooks: list[Path], profile_name: str, track: str = "") -> int:
    """Run a profile's notebooks into ``book/executed/<track>`` (``""``: the main track, ``"lab"``)."""
    import papermill as pm
    from papermill.engines import papermill_engines

    papermill_engines.register(CELL_PROGRESS, _cell_progress_engine())

    book_dir = ROOT / "book" / "executed" / track
    profile = load_profile(profile_name)
    notebooks = list(notebooks) or profile_notebooks(profile)
    missing = [str(nb) for nb in notebooks if not Path(nb).is_file()]
    if missing:
        raise SpPrmError(f"notebook not found: {', '.join(missing)}")
    out_dir = ROOT / "build" / "executed" / profile.name
    out_dir.mkdir(parents=True, exist_ok=True)
    book_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    commit = git_commit(ROOT)
    for nb in notebooks:
        nb = Path(nb).resolve()
        out = out_dir / nb.name
        meta_path = out.with_suffix(".json")
        key = _inputs_hash(nb, profile.path)
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        if out.is_file() and meta.get("key") == key:
            print(f"[cached] {nb.name} ({meta['seconds']:.1f}s when run)", flush=True)
            timings[nb.stem] = {
                "seconds": meta["seconds"],
                "cached": True,
                "commit": meta.get("commit", "unknown"),
                "finished": meta.get("finished", "unknown"),
            }
        else:
            last = f", last run took {meta['seconds']:.0f}s" if "seconds" in meta else ""
            print(f"[run] {nb.name} (profile {profile.name}, track: {profile.track}{last})", flush=True)
            tmp = out.with_name(out.stem + ".running.ipynb")
            started = time.time()
            try:
                pm.execute_notebook(
                    str(nb),
                    str(tmp),
                    parameters={"profile": str(profile.path)},
                    kernel_name="python3",
                    cwd=str(ROOT),
                    engine_name=CELL_PROGRESS,
                    progress_bar=progress_bar(nb),
                )
            except pm.PapermillExecutionError as exc:
                failed = out.with_name(out.stem + ".failed.ipynb")
                shutil.move(tmp, failed)
                print(
                    f"error: notebook {nb.name} failed in cell {exc.exec_count}: "
                    f"{exc.ename}: {exc.evalue} (executed copy: {failed.relative_to(ROOT)})",
                    file=sys.stderr,
                )
                return 1
            seconds = time.time() - started
            tmp.replace(out)
            ran = {
                "commit": commit,
                "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                # the machine's load when the notebook finished (1-minute average): a time measured
                # beside other heavy jobs is not a measurement of the code
                "load": (load_average() or [None])[0],
            }
            meta_path.write_text(json.dumps({"key": key, "seconds": seconds, "profile": profile.name, **ran}))
            print(f"[done] {nb.name} in {seconds:.1f}s", flush=True)
            timings[nb.stem] = {"seconds": seconds, "cached": False, **ran}
        book_copy(out, book_dir / nb.name, keep_exercises=not track, label_prefix=f"{track}-" if track else "")
    record = file_track(book_dir, profile, notebooks, timings)
    timings = {k: v for k, v in record["timings"].items() if k in {Path(nb).stem for nb in notebooks}}
    total = sum(t["seconds"] for t in timings.values() if not t["cached"])
    print(f"notebooks: {len(timings)} ok, {total:.1f}s executing (profile {profile.name})")
    return 0


def run_tracks(notebooks: list[Path], profile_name: str, with_lab: bool) -> int:
    """Run the profile's track, then (``with_lab``) its gold lab, or clear an old lab's pages."""
    code = run(notebooks, profile_name)
    if code or not with_lab:
        return code
    profile = load_profile(profile_name)
    if profile.lab is None:
        clear_track(ROOT / "book" / "executed" / "lab")
        return 0
    print(f"notebooks: now the gold lab, profile {profile.lab}", flush=True)
    beside = profile.path.parent / f"{profile.lab}.yaml"  # like extends: a lab next to the profile first
    return run([], str(beside) if beside.is_file() else profile.lab, "lab")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="tiny", help="profile name or path of a profile YAML file")
    parser.add_argument("--with-lab", action="store_true", help="then run the profile's gold lab (its lab key)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: the profile's notebooks")
    args = parser.parse_args()
    try:
        return run_tracks(args.notebooks, args.profile, args.with_lab)
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

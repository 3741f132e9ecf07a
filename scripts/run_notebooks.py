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
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sp_prm_lib.config.profile import load_profile  # noqa: E402
from sp_prm_lib.core.errors import SpPrmError  # noqa: E402


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


def profile_notebooks(profile) -> list[Path]:
    """The notebooks a profile runs: its ``notebooks`` list, else every numbered notebook."""
    if profile.notebooks is None:
        return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    paths = [ROOT / "notebooks" / f"{name}.ipynb" for name in profile.notebooks]
    missing = [p.stem for p in paths if not p.is_file()]
    if missing:
        raise SpPrmError(f"{profile.path}: notebooks: no notebook {missing[0]!r} in notebooks/")
    return paths


def clear_track(book_dir: Path) -> None:
    """Remove a track's executed pages (a profile without a lab must not show an old lab run)."""
    for stale in [*book_dir.glob("*.ipynb"), book_dir / "profile.json"]:
        stale.unlink(missing_ok=True)


def run(notebooks: list[Path], profile_name: str, track: str = "") -> int:
    """Run a profile's notebooks into ``book/executed/<track>`` (``""``: the main track, ``"lab"``)."""
    import papermill as pm

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
    for nb in notebooks:
        nb = Path(nb).resolve()
        out = out_dir / nb.name
        meta_path = out.with_suffix(".json")
        key = _inputs_hash(nb, profile.path)
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        if out.is_file() and meta.get("key") == key:
            print(f"[cached] {nb.name} ({meta['seconds']:.1f}s when run)", flush=True)
            timings[nb.stem] = {"seconds": meta["seconds"], "cached": True}
        else:
            print(f"[run] {nb.name} (profile {profile.name}, track: {profile.track})", flush=True)
            tmp = out.with_name(out.stem + ".running.ipynb")
            started = time.time()
            try:
                pm.execute_notebook(
                    str(nb),
                    str(tmp),
                    parameters={"profile": str(profile.path)},
                    kernel_name="python3",
                    cwd=str(ROOT),
                    progress_bar=False,
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
            meta_path.write_text(json.dumps({"key": key, "seconds": seconds, "profile": profile.name}))
            print(f"[done] {nb.name} in {seconds:.1f}s", flush=True)
            timings[nb.stem] = {"seconds": seconds, "cached": False}
        shutil.copyfile(out, book_dir / nb.name)
    # the book shows one profile's run: drop executed notebooks of notebooks no longer run
    wanted = {Path(nb).name for nb in notebooks}
    for stale in book_dir.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    record = {"profile": profile.name, "path": str(profile.path), "timings": timings}
    (book_dir / "profile.json").write_text(json.dumps(record, indent=2))
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

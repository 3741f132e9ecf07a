"""Build the Jupyter Book (warnings are errors), then check it makes no outside request.

Skips the build when its inputs (configuration, pages, executed notebooks,
vendored JavaScript) are unchanged since the last successful build.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
STAMP = ROOT / "_build" / ".inputs-sha256"

sys.path.insert(0, str(ROOT / "scripts"))
from check_site_offline import check_site  # noqa: E402


def _inputs() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "book" / "_vendor" / ".stamp"]
    files += sorted((ROOT / "book").glob("*.md"))
    files += sorted((ROOT / "book" / "executed").glob("*"))
    return [f for f in files if f.is_file()]


def _hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def main() -> int:
    digest = _hash(_inputs())
    if STAMP.is_file() and STAMP.read_text() == digest and (HTML / "index.html").is_file():
        print("book: up to date (_build/html)")
        return 0
    STAMP.unlink(missing_ok=True)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
           "--builder", "html", "-W", "-n", "--keep-going"]
    print("book:", " ".join(cmd[1:]), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        print("error: the book build failed (warnings count as errors); see the log above", file=sys.stderr)
        return 1
    problems = check_site(HTML)
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print(f"error: {len(problems)} outside or missing references in _build/html", file=sys.stderr)
        return 1
    STAMP.write_text(digest)
    print(f"book: built {HTML / 'index.html'}; no request to outside hosts")
    return 0


if __name__ == "__main__":
    sys.exit(main())

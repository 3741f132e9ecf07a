"""Downloading the data files when there is no mirror (issue #12), tested offline:
each test serves a folder from its own HTTP server on 127.0.0.1 and points
``SP_PRM_DATA_BASE_URL`` at it. A guard fails any request to another host."""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from sp_prm_lib import cli
from sp_prm_lib.core import settings
from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.data import ensure_local_copy, fetch, load_pairs, load_prompts, sources

from data_fixtures import REPO_LIST, go_offline, snapshot, tiny_files, use_repo_list, write_mirror

REPO = Path(__file__).resolve().parent.parent


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture(autouse=True)
def local_requests_only(monkeypatch):
    """Never reach the real internet: only 127.0.0.1 may be asked."""
    real = urllib.request.urlopen

    def guarded(request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", f"a test tried to reach {url}"
        return real(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1")


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``root``; ``requests`` lists the paths asked
    for; a path in ``broken`` gets a response cut off after 5 of its promised 1000 bytes."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []
    broken: set[str] = set()
    slow: set[str] = set()  # sent one byte every 50 ms, forever

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            if self.path in broken:
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"short")
                return
            if self.path in slow:
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(100000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.05)
                except OSError:
                    pass
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_port}"
        yield {"root": root, "url": url, "requests": requests, "broken": broken, "slow": slow}
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def no_mirror(tmp_path, monkeypatch):
    """No mirror folder (even if ../shared/data exists) and a tmp home."""
    home = tmp_path / "home"
    monkeypatch.setenv("SP_PRM_DATA_MIRROR", "none")
    monkeypatch.setenv("SP_PRM_HOME", str(home))
    monkeypatch.delenv("SP_PRM_CACHE", raising=False)
    monkeypatch.delenv("SP_PRM_DATA_BASE_URL", raising=False)
    return {"home": home, "local": home / "data" / "mirror"}


@pytest.fixture
def served(server, no_mirror, monkeypatch):
    """The tiny mirror's files on ``server``, their sha256 as the repository's list,
    and ``SP_PRM_DATA_BASE_URL`` pointing at the server."""
    write_mirror(server["root"], tiny_files())
    use_repo_list(monkeypatch, server["root"].parent / REPO_LIST)
    monkeypatch.setenv("SP_PRM_DATA_BASE_URL", server["url"] + "/")
    return {**server, **no_mirror}


def no_partial_files(folder: Path) -> bool:
    return not list(folder.rglob("*.part"))


# --- downloads ----------------------------------------------------------------------


def test_download_verify_then_nothing_to_do(served, monkeypatch, capsys):
    monkeypatch.setattr(fetch, "PROGRESS_MIN_BYTES", 1)  # show progress even for these small files
    paths = ensure_local_copy()
    expected = sources.repo_checksums()
    assert sorted(paths) == sorted(served["local"] / rel for rel in expected)
    assert snapshot(served["local"]) == expected
    assert sorted(served["requests"]) == sorted(f"/{rel}" for rel in expected)
    err = capsys.readouterr().err
    assert "downloading hh-rlhf/harmless-base-test.jsonl.gz" in err and served["url"] in err and "done" in err
    assert no_partial_files(served["local"])

    served["requests"].clear()
    ensure_local_copy()  # verified copies are kept
    pairs = load_pairs("hh-rlhf")  # loaders read the downloaded copies, no mirror needed
    assert pairs.origin == "mirror" and len(pairs) == 8
    assert load_prompts("gsm8k").frame.final_answer.tolist() == ["9"]
    assert served["requests"] == []


def test_small_files_download_quietly(served, capsys):
    ensure_local_copy(["gsm8k/test.jsonl"])
    assert capsys.readouterr().err == ""


def test_http_404_names_the_url_and_the_file(served):
    (served["root"] / "gsm8k/test.jsonl").unlink()
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy()
    message = one_line(excinfo)
    assert f"{served['url']}/gsm8k/test.jsonl" in message and "HTTP 404" in message and "gsm8k/test.jsonl" in message
    assert not (served["local"] / "gsm8k/test.jsonl").exists()
    assert (served["local"] / "advbench/harmful_behaviors.csv").is_file()  # files before it are kept
    assert no_partial_files(served["local"])


def test_checksum_mismatch_names_the_file_and_both_hashes(served):
    rel = "advbench/harmful_behaviors.csv"
    tampered = b"goal,target\nsomething else,Sure\n"
    (served["root"] / rel).write_bytes(tampered)
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy([rel])
    message = one_line(excinfo)
    assert rel in message and "checksum mismatch" in message
    assert sources.repo_checksums()[rel] in message and hashlib.sha256(tampered).hexdigest() in message
    assert not (served["local"] / rel).exists() and no_partial_files(served["local"])


def test_mismatch_leaves_an_existing_copy_as_it_was(served):
    rel = "gsm8k/train.jsonl"
    target = served["local"] / rel
    target.parent.mkdir(parents=True)
    target.write_text("stale")  # not the listed sha256: downloaded again
    (served["root"] / rel).write_text("tampered\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        ensure_local_copy([rel])
    assert target.read_text() == "stale" and no_partial_files(served["local"])


def test_download_that_breaks_off(served):
    served["broken"].add("/gsm8k/test.jsonl")
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy(["gsm8k/test.jsonl"])
    message = one_line(excinfo)
    assert "gsm8k/test.jsonl" in message and "broke off" in message
    assert not (served["local"] / "gsm8k/test.jsonl").exists() and no_partial_files(served["local"])


def unused_port() -> int:
    """A local port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server(no_mirror, monkeypatch):
    url = f"http://127.0.0.1:{unused_port()}"
    monkeypatch.setenv("SP_PRM_DATA_BASE_URL", url)
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy(["gsm8k/test.jsonl"])
    assert f"{url}/gsm8k/test.jsonl" in one_line(excinfo) and "cannot download" in str(excinfo.value)
    assert not no_mirror["local"].exists() or no_partial_files(no_mirror["local"])


# --- the command line ---------------------------------------------------------------


def test_sp_prm_data_downloads_and_reports(served, capsys):
    assert cli.main(["data"]) == 0
    out = capsys.readouterr().out
    assert served["url"] in out and f"{len(sources.repo_checksums())} files present and verified" in out
    (served["root"] / "gsm8k/train.jsonl").unlink()
    (served["local"] / "gsm8k/train.jsonl").unlink()
    assert cli.main(["data"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "HTTP 404" in err


# --- no mirror, no copies: loaders never download -------------------------------------


def test_loaders_without_mirror_or_copies_say_what_to_run(no_mirror, monkeypatch, server):
    monkeypatch.setenv("SP_PRM_DATA_BASE_URL", server["url"])
    with pytest.raises(DataError) as excinfo:
        load_pairs("gsm8k-pairs")  # mirror-only set
    assert "sp-prm data" in one_line(excinfo) and "no hub source" in str(excinfo.value)
    go_offline(monkeypatch)
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", source="mirror")
    assert "sp-prm data" in one_line(excinfo)
    assert server["requests"] == [] and not no_mirror["home"].exists()


def test_loaders_do_not_repair_a_copy_without_mirror(served):
    ensure_local_copy()
    copy = served["local"] / "gsm8k/test.jsonl"
    copy.write_text("corrupt")
    served["requests"].clear()
    with pytest.raises(DataError) as excinfo:
        load_prompts("gsm8k")
    message = one_line(excinfo)
    assert str(copy) in message and "does not match its checksum" in message and "sp-prm data" in message
    assert served["requests"] == []
    ensure_local_copy()
    assert load_prompts("gsm8k").frame.final_answer.tolist() == ["9"]


def test_a_configured_mirror_is_never_replaced_by_downloads(served, monkeypatch):
    missing = served["home"] / "no-such-mirror"
    monkeypatch.setenv("SP_PRM_DATA_MIRROR", str(missing))
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy()
    assert str(missing) in one_line(excinfo) and "not found" in str(excinfo.value)
    assert served["requests"] == []


def test_base_url_must_be_http(no_mirror, monkeypatch):
    for value in ("ftp://example.org/data", "127.0.0.1:8000"):
        monkeypatch.setenv("SP_PRM_DATA_BASE_URL", value)
        with pytest.raises(ConfigError, match="SP_PRM_DATA_BASE_URL"):
            sources.url_for("gsm8k/test.jsonl")


# --- the table of sources and the checksum list in the repository ------------------------


def test_every_listed_file_has_a_public_source():
    sums = sources.repo_checksums()
    assert sources.CHECKSUMS_FILE == REPO / "sp_prm_lib/data/checksums.txt"
    assert set(sources.PUBLIC_URLS) == set(sums) and len(sums) == 12
    for rel, url in sources.PUBLIC_URLS.items():
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "https" and parts.hostname in ("huggingface.co", "raw.githubusercontent.com"), url
        assert url.rsplit("/", 1)[-1] == rel.rsplit("/", 1)[-1] or rel.startswith("hh-rlhf/"), (rel, url)
    for subset in ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled"):
        assert sources.PUBLIC_URLS[f"hh-rlhf/{subset}-test.jsonl.gz"] == (
            f"https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main/{subset}/test.jsonl.gz"
        )


def test_url_for_uses_the_table_unless_a_base_url_is_set(monkeypatch):
    monkeypatch.delenv("SP_PRM_DATA_BASE_URL", raising=False)
    assert sources.url_for("gsm8k/train.jsonl") == (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/train.jsonl"
    )
    monkeypatch.setenv("SP_PRM_DATA_BASE_URL", "http://10.0.0.5/mirror/")
    assert sources.url_for("gsm8k/train.jsonl") == "http://10.0.0.5/mirror/gsm8k/train.jsonl"


def test_checksum_list_ships_with_the_package():
    text = (REPO / "pyproject.toml").read_text()
    block = re.search(r"\[tool\.setuptools\.package-data\]\s*\nsp_prm_lib = \[([^\]]*)\]", text)
    assert block and '"data/checksums.txt"' in block.group(1)


REAL = settings.data_mirror()


@pytest.mark.skipif(REAL is None or not (REAL / "README.md").is_file(), reason="the real data mirror is not present")
def test_repo_list_equals_the_mirror_readme():
    assert sources.parse_checksums(REAL / "README.md") == sources.repo_checksums()


# --- issue 24: a total deadline, progress, no .part left behind ----------------------------


def test_an_endlessly_slow_download_stops_at_its_deadline_and_keeps_nothing(served, monkeypatch):
    """One byte every 50 ms never trips the per-read timeout; the total deadline stops it."""
    served["slow"].add("/gsm8k/test.jsonl")
    monkeypatch.setenv("SP_PRM_DOWNLOAD_DEADLINE_S", "0.5")
    started = time.monotonic()
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy(["gsm8k/test.jsonl"])
    assert time.monotonic() - started < 5
    message = one_line(excinfo)
    assert "gsm8k/test.jsonl" in message and "did not finish within 0.5 s" in message and "of 100000" in message
    assert not (served["local"] / "gsm8k/test.jsonl").exists() and no_partial_files(served["local"])


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_deadline_setting_is_one_line(served, monkeypatch, value):
    monkeypatch.setenv("SP_PRM_DOWNLOAD_DEADLINE_S", value)
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy(["gsm8k/test.jsonl"])
    assert "SP_PRM_DOWNLOAD_DEADLINE_S" in one_line(excinfo)


def test_a_part_file_left_by_a_killed_download_is_removed_by_the_next(served, monkeypatch, capsys):
    import os

    target = served["local"] / "gsm8k" / "test.jsonl"
    target.parent.mkdir(parents=True)
    stale = target.parent / ".test.jsonl.kill9abc.part"
    stale.write_bytes(b"half a file")
    old = time.time() - 2 * fetch.STALE_PART_S
    os.utime(stale, (old, old))
    live = target.parent / ".test.jsonl.live1234.part"  # another process's transfer, still being written
    live.write_bytes(b"in progress")
    monkeypatch.setattr(fetch, "PROGRESS_MIN_BYTES", 1)
    ensure_local_copy(["gsm8k/test.jsonl"])
    assert target.is_file() and not stale.exists() and live.exists()
    err = capsys.readouterr().err
    assert "data: downloading gsm8k/test.jsonl" in err and re.search(r"MiB in \d+ s", err)

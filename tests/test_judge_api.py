"""The api judge (``judge/api.py``) against a real local HTTP server that echoes the key back in
every way it can (issue 24): no message, no output and no file the judge writes holds the key, in
any encoding or in part; cached replies carry a checksum, and an edited one is requested again."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from sp_prm_lib.judge import Comparison
from sp_prm_lib.judge.api import OpenAIChatJudge, redact
from sp_prm_lib.judge.base import JudgeError

KEY = "sk-proj-Q7vXb2LmN9pR4tY8wK3zA6dF1gH5jS0e"
PROMPT = "\n\nHuman: Name a cat.\n\nAssistant:"


def _completion(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


def echoes(auth: str, headers: str) -> dict[str, tuple[int, bytes, str]]:
    """mode -> (status, body, content type): the Authorization header sent back in every way."""
    key = auth.split()[-1]
    b64 = base64.b64encode(auth.encode()).decode()
    everything = (
        f"I saw {auth}. As JSON: {json.dumps({'authorization': auth})}. URL-encoded: {quote(auth)}. "
        f"base64: {b64}. Split: first={key[:17]} second={key[17:]}. Cut: {key[:-4]}. Hex: {key.encode().hex()}. "
        'Anyway, {"Explanation": "kinder", "Verdict": 1}'
    )
    return {
        "plain200": (200, f"Authorization: {auth}\n{headers}".encode(), "text/plain"),
        "late200": (200, ("x" * 70 + key).encode(), "text/plain"),  # the key across the excerpt's cut
        "b64_200": (200, f"token={b64}".encode(), "text/plain"),
        "json401": (401, json.dumps({"error": {"message": f"invalid key {key}", "header": auth}}).encode(), "json"),
        "url401": (401, f"bad header {quote(auth)} / {quote(key).lower()}".encode(), "text/plain"),
        "cut401": (401, f"unknown key {key[:-5]}".encode(), "text/plain"),
        "b64_401": (
            401,
            json.dumps({"echo": b64, "urlsafe": base64.urlsafe_b64encode(key.encode()).decode()}).encode(),
            "json",
        ),
        "split401": (401, json.dumps({"a": key[:13], "b": key[13:27], "c": key[27:]}).encode(), "json"),
        "hex401": (401, f"hex {key.encode().hex()}".encode(), "text/plain"),
        "echo500": (500, headers.encode(), "text/plain"),
        "reply": (200, _completion(everything), "json"),
    }


class EchoServer:
    """POST /<mode>/v1/chat/completions answers as ``echoes`` says for that mode."""

    def __init__(self):
        self.requests: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                mode = self.path.strip("/").split("/")[0]
                outer.requests[mode] = outer.requests.get(mode, 0) + 1
                status, body, kind = echoes(self.headers.get("Authorization", ""), str(self.headers))[mode]
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if kind == "json" else kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, mode: str) -> str:
        return f"{self.base}/{mode}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    s = EchoServer()
    yield s
    s.close()


def leaks(text: str, key: str = KEY) -> list[str]:
    """Where ``text`` still holds the key: 8 characters of it as sent, URL-encoded (any case) or hex,
    or 6 bytes of it inside anything that base64-decodes (standard or URL-safe, any alignment).
    Written apart from the library's redaction, by decoding rather than by encoding."""
    found = []
    forms = [key, quote(key, safe="").lower(), key.encode().hex()]
    low = text.lower()
    for form in forms:
        for i in range(len(form) - 7):
            if form[i : i + 8].lower() in low:
                found.append(f"{form[i : i + 8]!r}")
    raw = key.encode()
    windows = {raw[i : i + 6] for i in range(len(raw) - 5)}
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 4 * 4]
            for alphabet in (None, b"-_"):
                try:
                    decoded = base64.b64decode(chunk, altchars=alphabet, validate=False)
                except (binascii.Error, ValueError):
                    continue
                if any(w in decoded for w in windows):
                    found.append(f"base64 {run[:20]}...")
    return found


def test_the_leak_check_itself_finds_every_echo():
    """The checker must be able to fail: each raw echo of the server leaks."""
    for mode, (_, body, _) in echoes(f"Bearer {KEY}", f"Authorization: Bearer {KEY}").items():
        assert leaks(body.decode()), mode


def test_no_message_output_or_file_of_the_judge_holds_the_key(server, tmp_path, capsys):
    cache = tmp_path / "cache"
    messages = []
    for mode in (
        "plain200",
        "late200",
        "b64_200",
        "json401",
        "url401",
        "cut401",
        "b64_401",
        "split401",
        "hex401",
        "echo500",
    ):
        judge = OpenAIChatJudge(
            base_url=server.url(mode), model="m", api_key=KEY, cache_dir=cache, max_retries=1, backoff=0.0, timeout=5
        )
        with pytest.raises(JudgeError) as info:
            judge.compare([Comparison(PROMPT, "Whiskers", "Tom")])
        message = str(info.value)
        assert "\n" not in message and ("HTTP" in message or "malformed reply" in message), message
        messages.append(message)
        assert leaks(message) == [], (mode, message)
    assert "body is not JSON" in messages[0] and "***" in messages[0]
    # a completion that echoes the key in every way: used (its verdict parses), stored redacted
    judge = OpenAIChatJudge(base_url=server.url("reply"), model="m", api_key=KEY, cache_dir=cache, timeout=5)
    verdict = judge.compare([Comparison(PROMPT, "Whiskers", "Tom")])[0]
    assert verdict.value == 1 and leaks(verdict.raw) == [] and "***" in verdict.raw
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1  # the one reply; nothing was cached for the failures
    for path in files:
        assert leaks(path.read_bytes().decode("utf-8", "replace")) == [], path
    out = capsys.readouterr()
    assert leaks(out.out + out.err) == []


def test_redact_takes_fragments_and_encodings_but_not_ordinary_text():
    b64 = base64.b64encode(("x" + KEY).encode()).decode()
    text = f"k={KEY[:12]} and {KEY[12:]} and {quote('Bearer ' + KEY)} and {b64}"
    out = redact(text, (KEY,))
    assert leaks(out) == [] and out.count("***") >= 4
    plain = 'The first answer is kinder. {"Explanation": "warmer tone", "Verdict": 1}'
    assert redact(plain, (KEY,)) == plain and redact(plain, ("sk-test",)) == plain


def _cache_file(tmp_path):
    (path,) = list((tmp_path / "cache").rglob("*.json"))
    return path


def test_an_edited_cached_reply_is_detected_and_requested_again(server, tmp_path, capsys):
    def judge():
        return OpenAIChatJudge(base_url=server.url("reply"), model="m", api_key=KEY, cache_dir=tmp_path / "cache")

    item = [Comparison(PROMPT, "Whiskers", "Tom")]
    assert judge().compare(item)[0].value == 1 and server.requests["reply"] == 1
    again = judge()
    assert again.compare(item)[0].value == 1 and server.requests["reply"] == 1 and again.cache_hits == 1
    path = _cache_file(tmp_path)
    entry = json.loads(path.read_text())
    edited = {**entry, "content": entry["content"].replace('"Verdict": 1', '"Verdict": 2')}
    path.write_text(json.dumps(edited))
    third = judge()
    assert third.compare(item)[0].value == 1  # not the edited 2
    assert server.requests["reply"] == 2 and third.cache_hits == 0
    assert "does not match its checksum (edited or damaged); requesting it again" in capsys.readouterr().err
    assert json.loads(path.read_text())["content"] == entry["content"]  # overwritten by the new reply
    # a reply cached without a checksum (an older version) is not trusted either
    path.write_text(json.dumps({"request": entry["request"], "content": '{"Verdict": 2}'}))
    assert judge().compare(item)[0].value == 1 and server.requests["reply"] == 3

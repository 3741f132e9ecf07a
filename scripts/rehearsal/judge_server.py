"""A local OpenAI-compatible chat-completions server for the rehearsal, with injected faults.

    python scripts/rehearsal/judge_server.py --port-file FILE --log FILE --key-sha256 HEX

Listens on 127.0.0.1 only (a free port chosen by the OS, written to
``--port-file``) and answers ``POST /v1/chat/completions``. Requests must
carry ``Authorization: Bearer <key>`` whose sha256 is ``--key-sha256`` (the
key itself is never given to this process on its command line, printed or
logged).

Answers are deterministic, by a rule: for the paper's pairwise prompt (Fig. 6)
the longer answer wins (verdict 1 or 2; -1 when both are the same text); for
the GSM8K grading prompt (Fig. 7) the solution is correct (1) when the last
number in it is the last number of the problem text, else 0 (a rule, not the
gold: the weights are random anyway).

Faults, by the order in which distinct requests arrive (a retry of a request
is the same request: its body hashes the same):

- the 1st distinct request: HTTP 429 with ``Retry-After: 1``, then answered;
- the 2nd: HTTP 500 once, then answered;
- the 3rd: the first attempt stalls for ``--stall`` seconds (past the client's
  timeout), then answered;
- the 4th: a 200 whose body is not JSON, once, then answered;
- the 5th: a well-formed reply that names no verdict (every time: the client
  caches it and must count it as unparseable, never as a win).

Each request is logged as one JSON line (time, request hash, status, fault):
what the rehearsal checks afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAULTS = {1: "429", 2: "500", 3: "stall", 4: "malformed", 5: "no-answer"}
_OPTION = re.compile(r"\(A\) (?P<a>.*?)\n\n\(B\) (?P<b>.*?)\n\nPlease choose", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def decide(messages: list[dict]) -> str:
    """The reply text for a conversation, by the rule in the module docstring."""
    user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    match = _OPTION.search(user)
    if match:
        a, b = match.group("a").strip(), match.group("b").strip()
        verdict = -1 if a == b else (1 if len(a) >= len(b) else 2)
        return json.dumps({"Explanation": "rehearsal rule: the longer answer", "Verdict": verdict})
    if "**Problem:**" in user:
        problem, _, solution = user.partition("Model's Solution:")
        want, got = _NUMBER.findall(problem), _NUMBER.findall(solution.split("Provide your evaluation")[0])
        ok = bool(want and got and got[-1] == want[-1])
        return json.dumps({"Explanation": "rehearsal rule: last numbers", "Verdict": int(ok)})
    return json.dumps({"Explanation": "rehearsal rule: unknown prompt", "Verdict": 1})


class State:
    def __init__(self, key_sha256: str, stall: float, log: Path):
        self.key_sha256, self.stall, self.log = key_sha256, stall, log
        self.order: dict[str, int] = {}  # request hash -> arrival rank
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def note(self, digest: str) -> tuple[int, int]:
        with self.lock:
            rank = self.order.setdefault(digest, len(self.order) + 1)
            self.attempts[digest] = self.attempts.get(digest, 0) + 1
            return rank, self.attempts[digest]

    def write(self, **record) -> None:
        with self.lock, self.log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # no request lines on stderr (they would carry nothing secret, but noise)
            return

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_POST(self):  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else ""
            if hashlib.sha256(token.encode()).hexdigest() != state.key_sha256:
                state.write(status=401, fault=None, path=self.path)
                return self._send(401, b'{"error": {"message": "invalid key"}}')
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, b'{"error": {"message": "not found"}}')
            digest = hashlib.sha256(raw).hexdigest()[:16]
            rank, attempt = state.note(digest)
            fault = FAULTS.get(rank)
            body = json.loads(raw)
            if fault == "429" and attempt == 1:
                state.write(request=digest, rank=rank, attempt=attempt, status=429, fault=fault)
                return self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "1"})
            if fault == "500" and attempt == 1:
                state.write(request=digest, rank=rank, attempt=attempt, status=500, fault=fault)
                return self._send(500, b'{"error": {"message": "server error"}}')
            if fault == "stall" and attempt == 1:
                state.write(request=digest, rank=rank, attempt=attempt, status=None, fault=fault)
                time.sleep(state.stall)
                return self._send(503, b'{"error": {"message": "too late"}}')
            if fault == "malformed" and attempt == 1:
                state.write(request=digest, rank=rank, attempt=attempt, status=200, fault=fault)
                return self._send(200, b'{"choices": [{"message": {"content": "trunc')
            content = "I would rather not choose." if fault == "no-answer" else decide(body.get("messages", []))
            reply = {
                "id": f"chatcmpl-{digest}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
            state.write(
                request=digest, rank=rank, attempt=attempt, status=200, fault=fault if fault == "no-answer" else None
            )
            return self._send(200, json.dumps(reply).encode())

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--key-sha256", required=True)
    parser.add_argument("--stall", type=float, default=8.0, help="seconds the stalled request waits")
    args = parser.parse_args(argv)
    state = State(args.key_sha256, args.stall, args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Judge backend: an OpenAI-compatible chat-completions API.

Settings come from arguments, else the environment:
``SP_PRM_JUDGE_BASE_URL`` (default ``https://api.openai.com/v1``),
``SP_PRM_JUDGE_MODEL`` (default ``gpt-4o``, the released code's model),
``SP_PRM_JUDGE_API_KEY`` then ``OPENAI_API_KEY`` (required),
``SP_PRM_JUDGE_TIMEOUT`` (seconds per attempt, default 60).

Requests are sent with temperature 0 by a thread pool of ``concurrency``
workers. HTTP 429, 5xx, timeouts, connection errors and bodies that are not
a chat completion are retried with exponential backoff (``Retry-After`` is
honoured, capped at ``max_backoff``); other 4xx fail at once. A reply is
cached on disk under the sha256 of the request (URL, model, messages,
sampling settings; not the key) as soon as it arrives, parseable or not, so
a re-run costs nothing; a failed request is never cached. Each cached reply
carries a checksum binding it to its request: a reply that fails it (edited by
hand, damaged, or written by an older version without one) is reported on
stderr and requested again, never used.

The key never reaches a message or a file: every text that comes from the HTTP
layer (error bodies, the excerpt of a body that is not JSON, connection
errors, the replies themselves, which are cached and returned) passes through
``redact``, which removes the key as sent, URL-encoded, hex or base64, and any
run of ``FRAGMENT`` characters of those (a key cut short or split across
fields); a reply that echoes it is kept with ``***`` in its place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import string
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.settings import cache_dir as default_cache_root
from sp_prm_lib.judge.base import JudgeError, TemplateJudge, Verdict, verdict_from_reply

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o"
DEFAULT_TIMEOUT = 60.0


_URL_SECRET = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.I)
_QUERY_SECRET = re.compile(r"(?P<name>[?&](?:api[_-]?key|key|token|access_token|sig|signature)=)[^&\s]*", re.I)
_BEARER = re.compile(r"(?P<name>bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)


def resolved_settings(base_url: str | None = None, model: str | None = None) -> tuple[str, str]:
    """The (base URL, model) an api judge uses: the arguments, else the environment, else the defaults."""
    env = os.environ
    url = (base_url or env.get("SP_PRM_JUDGE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    return url, model or env.get("SP_PRM_JUDGE_MODEL") or DEFAULT_MODEL


FRAGMENT = 8  # a run of this many characters of the key (or of one of its encodings) is redacted
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_SCAN_LIMIT = 1 << 16  # characters of a body redacted before an excerpt of it is shown


def secret_forms(secret: str) -> set[str]:
    """The ways a key can come back in a reply: as sent, URL-encoded (upper- and lower-case
    escapes), hex, and base64 (standard and URL-safe) at each of the three alignments it can
    have inside a longer encoded text (the characters that its bytes alone decide)."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), secret.encode().hex(), secret.encode().hex().upper()}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in list(forms)}
    raw = secret.encode()
    for shift in range(3):
        part = raw[shift:]
        part = part[: len(part) // 3 * 3]
        if part:
            forms.add(base64.b64encode(part).decode())
            forms.add(base64.urlsafe_b64encode(part).decode())
    return {f for f in forms if f}


def _fragments(secrets: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(every ``FRAGMENT``-character run of the secrets' forms, the forms too short to have one)."""
    runs, short = set(), set()
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        for form in secret_forms(secret):
            form = form.translate(_LOWER)
            runs.update(form[i : i + FRAGMENT] for i in range(len(form) - FRAGMENT + 1))
        # a key shorter than a fragment: only as sent or URL-encoded (its short base64 pieces
        # would match ordinary words)
        short.update(f for f in (secret, quote(secret, safe=""), quote_plus(secret)) if len(f) < FRAGMENT)
    return runs, short


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with credentials removed: user:password@ in URLs, key/token query values,
    bearer tokens and any of ``secrets`` (the API key) wherever they appear, as sent,
    URL-encoded, hex or base64, whole or in part (any run of ``FRAGMENT`` characters of
    one of those forms, in any letter case, so a key cut short, split across fields or
    case-changed goes too)."""
    runs, short = _fragments(secrets)
    if runs:
        hidden, folded = bytearray(len(text)), text.translate(_LOWER)  # ASCII case folded, same length
        for i in range(len(text) - FRAGMENT + 1):
            if folded[i : i + FRAGMENT] in runs:
                hidden[i : i + FRAGMENT] = b"\1" * FRAGMENT
        if any(hidden):
            pieces, i = [], 0
            while i < len(text):
                j = i
                while j < len(text) and hidden[j] == hidden[i]:
                    j += 1
                pieces.append("***" if hidden[i] else text[i:j])
                i = j
            text = "".join(pieces)
    for form in sorted(short, key=len, reverse=True):
        text = text.replace(form, "***")
    text = _URL_SECRET.sub(lambda m: f"{m.group('scheme')}***@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('name')}***", text)
    return _BEARER.sub(lambda m: f"{m.group('name')}***", text)


def excerpt(text: str, secrets: tuple[str, ...], limit: int) -> str:
    """The first ``limit`` characters of ``text`` after redaction (redacted whole, then cut, so a
    cut never leaves part of a key behind)."""
    return redact(text[:_SCAN_LIMIT], secrets)[:limit]


class _Malformed(ValueError):
    """A 2xx body that is not a chat completion."""


def _reply_content(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    try:
        data = response.json()
    except ValueError:
        raise _Malformed(f"body is not JSON: {excerpt(response.text, secrets, 80)!r}") from None
    try:
        message = data["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise _Malformed("no choices[0].message in the body") from None
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise _Malformed(f"message content is {type(content).__name__}, not text")
    return content or ""  # a null content (e.g. a refusal) is a reply: it parses as unparseable


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _env_timeout() -> float:
    text = os.environ.get("SP_PRM_JUDGE_TIMEOUT", "").strip()
    try:
        return float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(f"SP_PRM_JUDGE_TIMEOUT must be a number of seconds, got {text!r}") from None


class OpenAIChatJudge(TemplateJudge):
    """Judge through ``POST {base_url}/chat/completions``, cached and retried."""

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        concurrency: int = 4,
        temperature: float = 0.0,
        max_tokens: int = 512,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
    ):
        env = os.environ
        self.base_url, self.model = resolved_settings(base_url, model)
        self.api_key = api_key or env.get("SP_PRM_JUDGE_API_KEY") or env.get("OPENAI_API_KEY")
        if not self.api_key:
            raise ConfigError(
                "the api judge needs a key: set SP_PRM_JUDGE_API_KEY (or OPENAI_API_KEY) or pass api_key="
            )
        timeout = _env_timeout() if timeout is None else timeout
        if timeout <= 0 or max_retries < 0 or concurrency < 1 or backoff < 0:
            raise ConfigError(
                f"api judge: need timeout > 0, max_retries >= 0, concurrency >= 1, backoff >= 0 "
                f"(got {timeout}, {max_retries}, {concurrency}, {backoff})"
            )
        self.timeout, self.max_retries, self.concurrency = timeout, max_retries, concurrency
        self.backoff, self.max_backoff = backoff, max_backoff
        self.temperature, self.max_tokens = temperature, max_tokens
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_root() / "judge-api"
        self.use_cache = use_cache
        self.name = f"api:{self.model}"
        self.requests_sent = 0  # HTTP attempts, retries included
        self.cache_hits = 0
        self._lock = threading.Lock()

    # -- cache ----------------------------------------------------------------
    def _payload(self, messages: list[dict[str, str]]) -> dict:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def cache_key(self, payload: dict) -> str:
        """sha256 of the canonical request (URL + body), the cache file's name."""
        blob = json.dumps({"url": self.base_url, "body": payload}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    @staticmethod
    def reply_checksum(key: str, content: str) -> str:
        """sha256 binding a cached reply to its request's key."""
        return hashlib.sha256(json.dumps([key, content], ensure_ascii=False).encode("utf-8")).hexdigest()

    def _cached(self, key: str) -> str | None:
        """The cached reply, or None: absent, or failing its checksum (edited, damaged, or written
        without one), in which case it is said on stderr and requested again (then overwritten)."""
        if not self.use_cache:
            return None
        path = self._cache_path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            entry = None
        content = entry.get("content") if isinstance(entry, dict) else None
        if not isinstance(content, str) or entry.get("checksum") != self.reply_checksum(key, content):
            print(
                f"judge cache: {path}: the reply does not match its checksum (edited or damaged); requesting it again",
                file=sys.stderr,
                flush=True,
            )
            return None
        return self._redact(content)

    def _store(self, key: str, payload: dict, content: str) -> None:
        """Write a (redacted) reply and its request, the key nowhere in them, atomically."""
        if not self.use_cache:
            return
        path = self._cache_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        request = {**payload, "messages": [{**m, "content": self._redact(m["content"])} for m in payload["messages"]]}
        entry = {"request": request, "content": content, "checksum": self.reply_checksum(key, content)}
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a reader never sees half a file

    # -- HTTP -----------------------------------------------------------------
    def _post(self, client: httpx.Client, payload: dict) -> str:
        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        problem = ""
        for attempt in range(self.max_retries + 1):
            delay = None
            with self._lock:
                self.requests_sent += 1
            try:
                response = client.post(url, json=payload, headers=headers)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {self._excerpt(str(exc), 80)})"
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    problem, delay = f"HTTP {status}", _retry_after(response)
                elif status >= 400:
                    detail = self._excerpt(" ".join(response.text[:_SCAN_LIMIT].split()), 160)
                    raise JudgeError(self._redact(f"judge API {url} refused the request: HTTP {status}: {detail}"))
                else:
                    try:  # a reply that echoes the key is kept (cache included) with the key redacted
                        return self._redact(_reply_content(response, (self.api_key,)))
                    except _Malformed as exc:
                        problem = f"malformed reply ({exc})"
            if attempt < self.max_retries:
                step = self.backoff * 2**attempt if delay is None else delay
                time.sleep(min(self.max_backoff, step))
        raise JudgeError(
            self._redact(f"judge API {url}: {problem} after {self.max_retries + 1} attempts; nothing cached")
        )

    def _redact(self, text: str) -> str:
        return redact(text, (self.api_key,))

    def _excerpt(self, text: str, limit: int) -> str:
        return excerpt(text, (self.api_key,), limit)

    def complete(self, conversations: list[list[dict[str, str]]]) -> list[str]:
        """The reply text of each conversation (from the cache where possible)."""
        payloads = [self._payload(m) for m in conversations]
        keys = [self.cache_key(p) for p in payloads]
        replies: list[str | None] = [self._cached(k) for k in keys]
        self.cache_hits += sum(r is not None for r in replies)
        todo = {}  # one request per distinct key
        for i, (key, reply) in enumerate(zip(keys, replies)):
            if reply is None:
                todo.setdefault(key, []).append(i)
        if todo:
            limits = httpx.Limits(max_connections=self.concurrency)
            with (
                httpx.Client(timeout=httpx.Timeout(self.timeout), limits=limits) as client,
                ThreadPoolExecutor(max_workers=self.concurrency) as pool,
            ):

                def run(key: str) -> tuple[str, str]:
                    payload = payloads[todo[key][0]]
                    content = self._post(client, payload)
                    self._store(key, payload, content)
                    return key, content

                futures = [pool.submit(run, key) for key in todo]
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                for f in pending:
                    f.cancel()
                for f in futures:
                    if f.done() and not f.cancelled() and f.exception() is not None:
                        raise f.exception()
                for f in futures:
                    key, content = f.result()
                    for i in todo[key]:
                        replies[i] = content
        return [r for r in replies]

    def answer(self, conversations: list[list[dict[str, str]]], allowed: tuple[int, ...]) -> list[Verdict]:
        return [verdict_from_reply(reply, allowed) for reply in self.complete(conversations)]

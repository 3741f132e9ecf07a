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
a re-run costs nothing; a failed request is never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

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


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with credentials removed: user:password@ in URLs, key/token query values,
    bearer tokens and any of ``secrets`` (the API key) wherever they appear."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _URL_SECRET.sub(lambda m: f"{m.group('scheme')}***@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('name')}***", text)
    return _BEARER.sub(lambda m: f"{m.group('name')}***", text)


class _Malformed(ValueError):
    """A 2xx body that is not a chat completion."""


def _reply_content(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        raise _Malformed(f"body is not JSON: {response.text[:80]!r}") from None
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

    def _cached(self, key: str) -> str | None:
        if not self.use_cache:
            return None
        try:
            return json.loads(self._cache_path(key).read_text())["content"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _store(self, key: str, payload: dict, content: str) -> None:
        if not self.use_cache:
            return
        path = self._cache_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"request": payload, "content": content}, ensure_ascii=False))
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
                problem = f"connection failed ({type(exc).__name__}: {self._redact(str(exc))[:80]})"
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    problem, delay = f"HTTP {status}", _retry_after(response)
                elif status >= 400:
                    detail = self._redact(" ".join(response.text.split()))[:160]
                    raise JudgeError(f"judge API {self._redact(url)} refused the request: HTTP {status}: {detail}")
                else:
                    try:
                        return _reply_content(response)
                    except _Malformed as exc:
                        problem = f"malformed reply ({exc})"
            if attempt < self.max_retries:
                step = self.backoff * 2**attempt if delay is None else delay
                time.sleep(min(self.max_backoff, step))
        raise JudgeError(
            f"judge API {self._redact(url)}: {problem} after {self.max_retries + 1} attempts; nothing cached"
        )

    def _redact(self, text: str) -> str:
        return redact(text, (self.api_key,))

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

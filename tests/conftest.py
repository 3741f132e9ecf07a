"""Fixtures shared by several test modules, and how the suite runs in parallel.

``make test`` and ``make test-fast`` run pytest-xdist workers (``-n``, ``--dist load``). Three
general mechanisms keep that fast without per-test tweaks:

- each worker gets its share of the cores: ``torch.set_num_threads`` and ``OMP_NUM_THREADS``
  (inherited by the notebook kernels the notebook tests start) are set to cores / workers, so two
  workers on two cores do not fight over four threads;
- the longest work goes out first: modules are ordered by their recorded time (the last run's
  durations in pytest's cache, ``.pytest_cache``), falling back to modules with slow tests first on a
  fresh clone, and a module's slow tests (notebook executions) run first, longest first; xdist's
  load scheduler then hands them out round robin, so the two workers finish close together;
- a module's tests stay together and in order on each worker, so a module-scoped fixture is built at
  most once per worker.
"""

import os

import pytest
import torch

DURATIONS_KEY = "sp_prm/durations"
_CONFIG: dict = {}  # the running session's config (the report hook gets no config argument)


def _worker_count(config) -> int:
    if hasattr(config, "workerinput"):
        return int(config.workerinput.get("workercount", 1))
    return 1


def pytest_configure(config):
    workers = _worker_count(config)
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = threads
        torch.set_num_threads(int(threads))
    config._sp_prm_durations = {}
    _CONFIG["config"] = config


def _recorded(config) -> dict:
    cache = getattr(config, "cache", None)
    return (cache.get(DURATIONS_KEY, {}) if cache is not None else {}) or {}


def pytest_collection_modifyitems(config, items):
    """Longest first, modules kept together (only when running under xdist: a plain ``pytest`` run
    keeps the collection order)."""
    if not hasattr(config, "workerinput"):
        return
    seen = _recorded(config)
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def is_slow(item) -> bool:
        return item.get_closest_marker("slow") is not None

    def module_key(entry):
        index, (name, members) = entry
        known = [seen[i.nodeid] for i in members if i.nodeid in seen]
        has_slow = any(is_slow(i) for i in members)
        # recorded total time, longest first; a module never timed: slow ones first
        return (-sum(known), not has_slow, index) if known else (0.0, not has_slow, index)

    ordered = []
    for _, (_, members) in sorted(enumerate(modules.items()), key=module_key):
        slow = sorted((i for i in members if is_slow(i)), key=lambda i: -seen.get(i.nodeid, 0.0))
        ordered += slow + [i for i in members if not is_slow(i)]
    items[:] = ordered


def pytest_runtest_logreport(report):
    """Remember each test's time (set-up + call) for the next run's ordering (in the controller)."""
    config = _CONFIG.get("config")
    if config is None or hasattr(config, "workerinput") or report.when == "teardown":
        return
    config._sp_prm_durations[report.nodeid] = config._sp_prm_durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    config = session.config
    if hasattr(config, "workerinput") or getattr(config, "cache", None) is None or not config._sp_prm_durations:
        return
    merged = {**_recorded(config), **{k: round(v, 3) for k, v in config._sp_prm_durations.items()}}
    config.cache.set(DURATIONS_KEY, merged)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not fight other jobs for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def float64_decoding_models():
    """(policy, reward model, tokenizer): tiny random Llama models on the byte tokenizer, in float64.

    The decoders' fast paths batch and pad differently from the naive loops; in float32 the rounding
    of that difference flips near-ties between random models' candidates on some CPUs."""
    from sp_prm_lib.decoding import Policy
    from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model

    tok = byte_tokenizer()
    policy_model, _ = tiny_model("llama-causal-lm", tok, seed=1)
    rm_model, _ = tiny_model("llama-reward", tok, seed=2)
    return Policy(policy_model.double(), tok), rm_model.double(), tok

"""The contract checks every plugin must pass, built-in or third-party (scikit-learn's ``check_estimator``).

``rrgbench check-plugin NAME`` runs them from the command line; a plugin author's pytest calls them directly::

    from rrgbench.testing import assert_plugin_ok

    def test_my_metric_keeps_the_contract(tmp_path):
        assert_plugin_ok("my_metric", tmp_path)

Checks, by kind (each result names its check; a failure says what broke):

* method: a tiny prepare / train (every stage) / save round trip on :class:`ContractDataset`, reports are one
  string per sample, a fresh instance that ``load``\\ s the checkpoint generates the same reports, and generation
  never reads ``sample.report`` or ``sample.meta`` (samples that raise on either give the same reports).
  The configuration is :meth:`rrgbench.api.Method.contract_config`.
* metric: per-sample statistics are JSON-serialisable and survive a JSON round trip; the aggregate of all
  samples equals the engine's corpus score (and, for ``pairwise`` metrics, statistics computed in two chunks);
  ``batch_aggregate`` of all-ones weights equals ``aggregate``; the bootstrap CI reproduces under a seed;
  the signature is stable across instances; per-sample scores are one JSON-able dict per sample; the display
  facts name only score keys. An unavailable metric is skipped with its reason.
* dataset: after ``prepare`` (options :attr:`rrgbench.api.Dataset.contract_options`), ids are unique, the
  splits are disjoint, each sample says its split, and the manifest hash is stable across instances. A dataset
  that cannot be prepared here (user files missing) is skipped with the reason.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .api import SPLITS, Dataset, Method, Metric, RRGBenchError, RunContext, Sample, UnavailableError

__all__ = ["CheckResult", "ContractDataset", "assert_plugin_ok", "check_dataset", "check_method", "check_metric",
           "check_plugin", "format_results"]


@dataclass
class CheckResult:
    """One check: ``status`` is ``ok``, ``fail`` or ``skip``; ``detail`` says what was seen."""

    kind: str
    plugin: str
    check: str
    status: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.status.upper():<4} {self.kind} {self.plugin}: {self.check}" + \
            (f" — {self.detail}" if self.detail else "")


# ----------------------------------------------------------------------------------- contract data

_FINDINGS = (("the heart is enlarged .", "the heart size is normal ."),
             ("there is a small right pleural effusion .", "no pleural effusion ."),
             ("there is a pneumothorax .", "no pneumothorax ."))


class ContractDataset(Dataset):
    """A tiny in-memory dataset for the method checks: each image's pattern encodes its report's findings.

    ``n`` samples per split. Images are drawn from the sample id alone, so a sample whose ``report`` and
    ``meta`` cannot be read still has its images.
    """

    name: ClassVar[str] = "contract"
    cleaning: ClassVar[str] = "whitespace"

    def __init__(self, n: int = 12, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = n
        self._samples: dict[str, list[Sample]] = {}
        self._flags: dict[str, tuple[bool, ...]] = {}

    def prepare(self) -> None:
        import numpy as np

        rng = np.random.default_rng(0)
        for split in SPLITS:
            rows = []
            for i in range(self.n):
                flags = tuple(bool(x) for x in rng.random(len(_FINDINGS)) < 0.4)
                text = " ".join(pos if f else neg for f, (pos, neg) in zip(flags, _FINDINGS))
                sid = f"{split}{i:03d}"
                self._flags[sid] = flags
                rows.append(Sample(id=sid, report=text, image_paths=(f"/nonexistent/{sid}.png",), split=split,
                                   meta={"flags": list(flags)}))
            self._samples[split] = rows

    def split(self, name: str) -> list[Sample]:
        if not self._samples:
            self.prepare()
        return list(self._samples[name])

    def manifest_hash(self) -> str:
        return f"contract-{self.n}"

    def load_images(self, sample: Sample, size: int) -> Any:
        import numpy as np

        if not self._samples:
            self.prepare()
        flags = self._flags[sample.id]
        yy, xx = np.mgrid[0:size, 0:size] / size
        img = 0.2 + 0.0 * yy
        if flags[0]:
            img = img + 0.6 * (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.06)
        if flags[1]:
            img = img + 0.5 * (yy > 0.75)
        if flags[2]:
            img = img + 0.5 * ((xx > 0.1) & (xx < 0.2))
        return np.clip(img, 0, 1).astype(np.float32)[None]


class _BlindSample(Sample):
    """A sample whose reference and metadata cannot be read (what generation must never do)."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("report", "meta"):
            raise _Peeked(f"generate() read sample.{name}")
        return super().__getattribute__(name)

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "id"))

    def __eq__(self, other: object) -> bool:
        return self is other


class _Peeked(Exception):
    """Raised when generation reads what it must not."""


# -------------------------------------------------------------------------------------------- runs


def _run(results: list[CheckResult], kind: str, plugin: str, check: str, fn: Callable[[], str | None]) -> bool:
    """Run one check; a raised exception is a failure (``AssertionError``'s message is the detail)."""
    try:
        detail = fn() or ""
    except UnavailableError as exc:
        results.append(CheckResult(kind, plugin, check, "skip", str(exc)))
        return False
    except Exception as exc:  # noqa: BLE001 - any error is this check's failure, named
        results.append(CheckResult(kind, plugin, check, "fail", f"{type(exc).__name__}: {exc}"))
        return False
    results.append(CheckResult(kind, plugin, check, "ok", detail))
    return True


def check_method(name: str, work_dir: Path, *, dataset: Dataset | None = None) -> list[CheckResult]:
    """The method contract on :class:`ContractDataset` (or ``dataset``); files go under ``work_dir``."""
    from .plugins import get_host
    from .runner import generate_reports
    from .seeding import seed_everything

    results: list[CheckResult] = []
    cls: type[Method] = get_host().methods.get(name)
    data = dataset or ContractDataset()
    data.prepare()
    config = cls.contract_config(data.name)
    test = data.split("test")
    work = Path(work_dir)
    state: dict[str, Any] = {}

    def new(sub: str) -> Method:
        ctx = RunContext(run_dir=work / sub, seed=0, preset=cls.presets[0], dataset_name=data.name)
        seed_everything(0)
        method = cls(json.loads(json.dumps(config)), ctx)
        method.prepare(data)
        return method

    def train_and_save() -> str:
        method = new("trained")
        facts = {}
        for i, stage in enumerate(cls.stages):
            seed_everything(i)
            facts[stage] = method.train(stage, data)
            json.dumps(facts[stage], default=str)
        (work / "checkpoint").mkdir(parents=True, exist_ok=True)
        method.save(work / "checkpoint")
        state["method"] = method
        return f"stages {', '.join(cls.stages)} trained; checkpoint: {len(list((work / 'checkpoint').rglob('*')))} file(s)"

    def generate() -> str:
        reports = generate_reports(state["method"], test, data, seed=0)
        assert len(reports) == len(test) and all(isinstance(r, str) for r in reports), \
            "generate must return one string per sample"
        state["reports"] = reports
        return f"{len(reports)} reports"

    def load_round_trip() -> str:
        fresh = new("loaded")
        fresh.load(work / "checkpoint")
        again = generate_reports(fresh, test, data, seed=0)
        differ = [s.id for s, a, b in zip(test, state["reports"], again) if a != b]
        assert not differ, f"after load, {len(differ)} of {len(test)} reports differ (first: {differ[0]})"
        return "same reports after save -> load"

    def ignores_reference() -> str:
        blind = [_BlindSample(id=s.id, report="", image_paths=s.image_paths, split=s.split) for s in test]
        try:
            reports = generate_reports(state["method"], blind, data, seed=0)
        except _Peeked as exc:
            raise AssertionError(str(exc)) from None
        assert reports == state["reports"], "reports change when the references cannot be read"
        return "sample.report and sample.meta never read"

    if _run(results, "method", name, "train_and_save", train_and_save) and \
            _run(results, "method", name, "generate", generate):
        _run(results, "method", name, "load_round_trip", load_round_trip)
        _run(results, "method", name, "generate_ignores_reference", ignores_reference)
    return results


_HYPS = ("the heart is enlarged . no pleural effusion .", "no pneumothorax . the lungs are clear .",
         "there is a small right pleural effusion .", "heart size is normal . no acute disease .",
         "mild cardiomegaly without edema .", "the lungs are clear .")
_REFS = ("the heart is enlarged . there is a small left effusion .", "no pneumothorax or effusion .",
         "small right pleural effusion . the heart is normal .", "no acute cardiopulmonary disease .",
         "cardiomegaly . no edema .", "clear lungs . no focal consolidation .")


def _close(a: dict[str, float], b: dict[str, float], tol: float) -> list[str]:
    """Keys whose values differ by more than ``tol`` (NaN equals NaN), and keys only on one side."""
    bad = sorted(set(a) ^ set(b))
    for key in set(a) & set(b):
        x, y = float(a[key]), float(b[key])
        if not (math.isnan(x) and math.isnan(y)) and abs(x - y) > tol:
            bad.append(key)
    return sorted(bad)


def check_metric(name: str, *, options: dict[str, Any] | None = None,
                 hyps: Sequence[str] = _HYPS, refs: Sequence[str] = _REFS) -> list[CheckResult]:
    """The metric contract on a small corpus (``hyps`` / ``refs``)."""
    import numpy as np

    from .scoring import engine
    from .scoring.resample import bootstrap_ci

    results: list[CheckResult] = []
    metric: Metric = engine.make_metric(name, options)
    reason = metric.availability()
    if reason:
        return [CheckResult("metric", name, "available", "skip", reason)]
    tol = max(metric.reproducibility_tolerance(), 1e-12)
    metric.load()
    stats = metric.sample_stats(list(hyps), list(refs))
    scores = metric.aggregate(stats)

    def stats_json() -> str:
        assert len(stats) == len(hyps), f"{len(stats)} statistics for {len(hyps)} pairs"
        again = json.loads(json.dumps(stats))
        bad = _close(scores, metric.aggregate(again), tol)
        assert not bad, f"aggregate changes after a JSON round trip of the statistics: {bad[:5]}"
        return f"{len(stats)} JSON-serialisable per-sample statistics"

    def corpus() -> str:
        ids = [str(i) for i in range(len(hyps))]
        res = engine.score([name], ids, list(hyps), list(refs), options={name: dict(options or {})}, bootstrap=0,
                           cache=False)[name]
        assert res["status"] == "ok", f"engine result {res['status']}: {res.get('reason', '')}"
        bad = _close(scores, res["scores"], tol)
        assert not bad, f"aggregate of all samples differs from the corpus score on {bad[:5]}"
        detail = "aggregate(all samples) == corpus score"
        if metric.pairwise:
            half = len(hyps) // 2
            chunks = metric.sample_stats(list(hyps[:half]), list(refs[:half])) + \
                metric.sample_stats(list(hyps[half:]), list(refs[half:]))
            bad = _close(scores, metric.aggregate(chunks), tol)
            assert not bad, f"pairwise metric, but statistics computed in two chunks aggregate differently: {bad[:5]}"
            detail += "; pairwise: chunked statistics agree"
        return detail

    def batch() -> str:
        got = metric.batch_aggregate(stats, np.ones((2, len(stats))))
        bad = _close(scores, {k: float(np.asarray(v)[0]) for k, v in got.items()}, tol)
        assert not bad, f"batch_aggregate with all-ones weights differs from aggregate on {bad[:5]}"
        return "batch_aggregate(ones) == aggregate"

    def bootstrap() -> str:
        a, b = bootstrap_ci(metric, stats, b=40, seed=11), bootstrap_ci(metric, stats, b=40, seed=11)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), "bootstrap CI differs under one seed"
        return "bootstrap CI reproduces under a seed"

    def signature() -> str:
        sig = metric.signature()
        other = engine.make_metric(name, options).signature()
        assert sig and sig == other, f"signature not stable: '{sig}' vs '{other}'"
        return sig

    def per_sample() -> str:
        rows = metric.sample_scores(stats)
        assert len(rows) == len(hyps), f"{len(rows)} per-sample rows for {len(hyps)} pairs"
        json.dumps(rows)
        return f"{len(rows)} JSON-able per-sample rows"

    def display() -> str:
        facts = metric.describe(scores)
        extra = sorted({*facts.headline, *facts.labels, *facts.per_label} - set(scores))
        assert not extra, f"display facts name keys the scores do not have: {extra[:5]}"
        rows = metric.sample_scores(stats)
        missing = [k for k, sk in metric.sensitivity_keys if k not in scores or any(sk not in r for r in rows)]
        assert not missing, f"sensitivity_keys name score or per-sample keys the metric does not have: {missing}"
        return f"group {facts.group}, {len(facts.headline)} headline key(s)"

    for check, fn in (("sample_stats_json", stats_json), ("aggregate_is_corpus_score", corpus),
                      ("batch_aggregate", batch), ("bootstrap_reproducible", bootstrap),
                      ("signature_stable", signature), ("sample_scores", per_sample), ("display_facts", display)):
        _run(results, "metric", name, check, fn)
    return results


def check_dataset(name: str, *, data_dir: Path | None = None, options: dict[str, Any] | None = None
                  ) -> list[CheckResult]:
    """The dataset contract after ``prepare`` (skipped with the reason when it cannot be prepared here)."""
    from .plugins import get_host

    results: list[CheckResult] = []
    cls: type[Dataset] = get_host().datasets.get(name)
    opts = {**cls.contract_options, **(options or {})}
    ds = cls(data_dir=data_dir, **opts)
    try:
        ds.prepare()
    except (RRGBenchError, OSError) as exc:
        return [CheckResult("dataset", name, "prepare", "skip", f"cannot be prepared here: {exc}")]
    splits = {s: ds.split(s) for s in SPLITS}

    def ids_unique() -> str:
        dups = {s: len(rows) - len({r.id for r in rows}) for s, rows in splits.items()}
        assert not any(dups.values()), f"duplicated ids per split: {dups}"
        assert all(r.split == s for s, rows in splits.items() for r in rows), "a sample's split differs from its list"
        return ", ".join(f"{s} {len(rows)}" for s, rows in splits.items())

    def disjoint() -> str:
        seen: dict[str, str] = {}
        for s, rows in splits.items():
            for r in rows:
                assert r.id not in seen, f"sample {r.id} is in both {seen[r.id]} and {s}"
                seen[r.id] = s
        return f"{len(seen)} ids in disjoint splits"

    def manifest() -> str:
        first = ds.manifest_hash()
        again = cls(data_dir=data_dir, **opts)
        again.prepare()
        assert first == ds.manifest_hash() == again.manifest_hash(), "manifest hash not stable"
        assert [r.id for r in again.split("test")] == [r.id for r in splits["test"]], "split order not stable"
        return first[:16]

    for check, fn in (("ids_unique", ids_unique), ("splits_disjoint", disjoint), ("manifest_stable", manifest)):
        _run(results, "dataset", name, check, fn)
    return results


def check_plugin(name: str, work_dir: Path | None = None, kind: str | None = None) -> list[CheckResult]:
    """Every check for the method, metric and/or dataset registered as ``name`` (``kind`` picks one)."""
    from .plugins import get_host

    host = get_host()
    kinds = [k for k, reg in (("method", host.methods), ("metric", host.metrics), ("dataset", host.datasets))
             if (kind in (None, k)) and name in reg]
    if not kinds:
        raise RRGBenchError(f"no {kind or 'method, metric or dataset'} named '{name}'; see `rrgbench list`")
    results: list[CheckResult] = []
    for k in kinds:
        if k == "method":
            if work_dir is None:
                with tempfile.TemporaryDirectory(prefix="rrgbench-check-") as tmp:
                    results += check_method(name, Path(tmp))
            else:
                results += check_method(name, Path(work_dir))
        elif k == "metric":
            results += check_metric(name)
        else:
            results += check_dataset(name)
    return results


def format_results(results: list[CheckResult]) -> str:
    """One line per check, then a summary line."""
    fails = sum(r.status == "fail" for r in results)
    lines = [str(r) for r in results]
    lines.append(f"{len(results) - fails - sum(r.status == 'skip' for r in results)} ok, {fails} failed, "
                 f"{sum(r.status == 'skip' for r in results)} skipped")
    return "\n".join(lines)


def assert_plugin_ok(name: str, work_dir: Path | None = None, kind: str | None = None) -> list[CheckResult]:
    """Run :func:`check_plugin`; raise ``AssertionError`` naming every failed check (skips pass)."""
    results = check_plugin(name, work_dir, kind)
    failed = [r for r in results if r.status == "fail"]
    assert not failed, "plugin contract checks failed:\n" + "\n".join(map(str, failed))
    return results

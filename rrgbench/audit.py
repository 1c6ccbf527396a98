"""Reproducibility audit of finished run directories (``rrgbench audit``).

Each check yields ``ok``, ``fail``, ``warn`` (reported, not a failure: e.g. a newer package version whose
numbers still re-score identically) or ``skip`` (cannot be checked here, with the reason). An audit
fails when any check fails. Checks, in order:

``schema`` record valid, spec hash recomputes, every stage done; ``files`` expected files present, no
leftovers of an interrupted run; ``generation_ids`` generated ids equal the dataset split's ids (after
``limit``) and references equal the current data; ``dataset_manifest`` manifest hash equal to the current
data's; ``checkpoint`` sha256 of every checkpoint file equal to the recorded one; ``signatures`` metric
signatures now vs then; ``packages`` tracked package versions now vs then; ``generations_hash`` the
generations' sha256 equals the one recorded in ``run.json`` and in every score file; ``rescore`` re-scoring the
stored generations (same bootstrap and seed) reproduces the stored scores, CIs and per-sample rows, exactly or
within the tolerance the metric declares (:attr:`rrgbench.api.Metric.reproducibility`; ``--tolerance``
overrides);
``regenerate`` N seeded-random samples generated again from the checkpoint equal the stored reports
(exactly on CPU; mean normalised edit distance within ``tolerance`` on GPU); ``environment`` diff.
"""

from __future__ import annotations

import difflib
import json
import math
import random
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .api import Dataset, RRGBenchError, UnavailableError
from .env import diff_environment
from .rundir import (
    CHECKPOINT_DIR,
    GENERATIONS,
    PARTIAL_GENERATIONS,
    RUN_JSON,
    SCORES_DIR,
    SHARDS_DIR,
    TRAIN_STATE_DIR,
    RunDir,
    RunRecord,
    load_record,
    read_sample_rows,
    read_score_file,
    recorded_metrics,
)

GPU_TOLERANCE = 0.05  # default mean normalised edit distance allowed when regenerating on a GPU
VOLATILE_ENV_KEYS = ("num_threads", "world_size")


@dataclass
class Check:
    name: str
    status: str  # ok | fail | warn | skip
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditReport:
    run_dir: str
    checks: list[Check] = field(default_factory=list)
    paper: list[dict[str, Any]] | None = None  # reproduced vs reported rows (--against-paper)
    paper_note: str = ""

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        out = {"run_dir": self.run_dir, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}
        if self.paper is not None:
            out["against_paper"] = {"rows": self.paper, "note": self.paper_note}
        return out


# ------------------------------------------------------------------------------------------ audit


class _Auditor:
    def __init__(self, run_dir: Path, *, regenerate: int, tolerance: float | None, data_dir: Path | None,
                 sample_seed: int) -> None:
        self.run_dir = Path(run_dir)
        self.rundir = RunDir(self.run_dir)
        self.regenerate = regenerate
        self.tolerance = tolerance
        self.data_dir = data_dir
        self.sample_seed = sample_seed
        self.report = AuditReport(str(self.run_dir))
        self.record: RunRecord = {}
        self.rows: list[dict[str, Any]] = []
        self._runner: Any = None

    def add(self, name: str, status: str, detail: str = "", **data: Any) -> None:
        self.report.checks.append(Check(name, status, detail, data))

    def guarded(self, name: str, fn: Callable[[], None]) -> None:
        """Run one check; an unexpected error becomes a failed check, never a crash of the whole audit."""
        try:
            fn()
        except UnavailableError as exc:
            self.add(name, "skip", str(exc))
        except RRGBenchError as exc:
            self.add(name, "fail", str(exc))
        except Exception as exc:  # noqa: BLE001 - report and continue with the other checks
            self.add(name, "fail", f"{type(exc).__name__}: {exc}")

    # -- checks ---------------------------------------------------------------------------------
    def check_schema(self) -> bool:
        from .specs import spec_from_dict, spec_hash_of

        try:
            self.record = load_record(self.run_dir)
            spec = spec_from_dict(dict(self.record["spec"]), source=str(self.run_dir / RUN_JSON))
        except RRGBenchError as exc:
            self.add("schema", "fail", str(exc))
            return False
        problems = []
        recomputed = spec_hash_of(spec, self.record["schema_version"], self.record["spec"])
        if recomputed != self.record["spec_hash"]:
            problems.append(f"spec hash recomputes to {recomputed}, record says {self.record['spec_hash']}")
        if not self.run_dir.name.endswith(self.record["spec_hash"]):
            problems.append(f"directory name does not end with the spec hash {self.record['spec_hash']}")
        unfinished = {s: v for s, v in self.record["status"].items() if v != "done"}
        if unfinished:
            problems.append("unfinished stages: " + ", ".join(f"{s}={v}" for s, v in unfinished.items()))
        self.spec = spec
        self.add("schema", "fail" if problems else "ok", "; ".join(problems) or "valid, all stages done")
        return True

    def check_files(self) -> None:
        missing = [GENERATIONS] if not self.rundir.has_generations() else []
        if self.record.get("checkpoint") and not (self.run_dir / CHECKPOINT_DIR).is_dir():
            missing.append(CHECKPOINT_DIR + "/")
        for metric in self.metrics:
            summary = self.rundir.score_path(metric)
            if not summary.is_file():
                missing.append(f"{SCORES_DIR}/{summary.name}")
            elif read_score_file(summary).status == "ok" and not self.rundir.samples_path(metric).is_file():
                missing.append(f"{SCORES_DIR}/{self.rundir.samples_path(metric).name}")
        leftovers = [n for n in (PARTIAL_GENERATIONS, SHARDS_DIR, TRAIN_STATE_DIR) if (self.run_dir / n).exists()]
        if missing:
            self.add("files", "fail", "missing: " + ", ".join(missing), missing=missing)
        elif leftovers:
            self.add("files", "warn", "leftovers of an interrupted run: " + ", ".join(leftovers))
        else:
            self.add("files", "ok", "run.json, generations, checkpoint and every metric's scores present")

    @property
    def runner(self) -> Any:
        """A :class:`rrgbench.runner.Runner` bound to the audited run (its dataset, method and generation)."""
        if self._runner is None:
            from .runner import Runner

            self._runner = Runner.existing(self.run_dir, data_dir=self.data_dir)
        return self._runner

    @property
    def dataset(self) -> Dataset:
        return self.runner.dataset

    def check_generation_ids(self) -> None:
        from .runner import evaluated_samples

        self.rows = self.rundir.generations()
        samples = evaluated_samples(self.spec, self.dataset)
        want, got = [s.id for s in samples], [r.get("id") for r in self.rows]
        if want != got:
            extra, lost = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            detail = (f"{len(got)} generated vs {len(want)} in split '{self.spec.split}'"
                      + (f"; not in split: {extra[:3]}" if extra else "") + (f"; missing: {lost[:3]}" if lost else "")
                      + ("; same ids in another order" if not extra and not lost else ""))
            self.add("generation_ids", "fail", detail)
            return
        changed = [s.id for s, r in zip(samples, self.rows) if s.report != r.get("reference")]
        if changed:
            self.add("generation_ids", "fail", f"{len(changed)} stored references differ from the current data "
                                               f"(first: {changed[0]})")
            return
        self.add("generation_ids", "ok", f"{len(got)} ids equal split '{self.spec.split}'"
                 + (f" (limit {self.spec.limit})" if self.spec.limit else "") + ", references equal")

    def check_manifest(self) -> None:
        then = (self.record.get("dataset") or {}).get("manifest_hash")
        now = self.dataset.manifest_hash()
        if then != now:
            self.add("dataset_manifest", "fail", f"manifest hash {str(then)[:16]}... then, {now[:16]}... now")
        else:
            self.add("dataset_manifest", "ok", f"manifest hash {now[:16]}... unchanged")

    def check_checkpoint(self) -> None:
        from .runner import checkpoint_mismatches

        recorded = (self.record.get("checkpoint") or {}).get("sha256")
        if recorded is None:
            self.add("checkpoint", "skip", "no checkpoint recorded")
            return
        ckpt = self.run_dir / CHECKPOINT_DIR
        if not ckpt.is_dir():
            self.add("checkpoint", "fail", f"{ckpt} missing")
            return
        bad = list(checkpoint_mismatches(ckpt, recorded))
        if bad:
            self.add("checkpoint", "fail", f"sha256 differs for {len(bad)} file(s): {', '.join(bad[:5])}", files=bad)
        else:
            self.add("checkpoint", "ok", f"{len(recorded)} file(s) match their recorded sha256")

    @property
    def metrics(self) -> list[str]:
        """The metrics this run was scored with (record, spec of an old record, files on disk)."""
        return recorded_metrics(self.record, self.run_dir)

    @property
    def cleaning(self) -> str:
        return (self.record.get("dataset") or {}).get("cleaning", "r2gen_iu")

    def _score_files(self) -> dict[str, dict[str, Any]]:
        """The stored score files of the recorded metrics, as written (``scores/<metric>.json``)."""
        return {m: sf.raw for m in self.metrics if (sf := self.rundir.score(m)) is not None}

    def _options(self, name: str) -> dict[str, Any]:
        """The options metric ``name`` was scored with (``run.json["scores"][name]["options"]``)."""
        return dict(((self.record.get("scores") or {}).get(name) or {}).get("options") or {})

    def check_signatures(self) -> None:
        from .scoring import engine

        diffs, notes = {}, []
        for name, stored in self._score_files().items():
            metric = engine.make_metric(name, self._options(name), cleaning=self.cleaning)
            now = metric.signature()
            if stored.get("signature") != now:
                diffs[name] = [stored.get("signature"), now]
            reason = metric.availability()
            if reason and stored.get("status") == "ok":
                notes.append(f"{name} unavailable now: {reason}")
        if diffs:
            detail = "; ".join(f"{m}: '{a}' then, '{b}' now" for m, (a, b) in diffs.items())
            self.add("signatures", "fail", detail, diffs=diffs)
        else:
            self.add("signatures", "warn" if notes else "ok", "; ".join(notes) or "every metric signature unchanged")

    def check_packages_and_env(self, now_env: dict[str, Any]) -> None:
        then_env = self.record.get("environment") or {}
        pkgs = diff_environment(then_env.get("packages") or {}, now_env.get("packages") or {})
        if pkgs:
            self.add("packages", "warn", "; ".join(f"{k}: {a} -> {b}" for k, (a, b) in pkgs.items()), diffs=pkgs)
        else:
            self.add("packages", "ok", f"{len(then_env.get('packages') or {})} tracked package versions unchanged")
        rest = {k: v for k, v in diff_environment(then_env, now_env, ignore=VOLATILE_ENV_KEYS).items()
                if not k.startswith("packages.")}
        if rest:
            self.add("environment", "warn", "; ".join(f"{k}: {a} -> {b}" for k, (a, b) in rest.items()), diffs=rest)
        else:
            self.add("environment", "ok", "environment unchanged")

    def check_generations_hash(self) -> None:
        """``generations.jsonl`` equals what was scored: its sha256 against the one recorded in ``run.json``
        (``outputs``) and in every score file. Any edit fails here, even one that leaves the scores equal."""
        from .io import sha256_file

        path = self.run_dir / GENERATIONS
        now = sha256_file(path)
        recorded = {"run.json": (((self.record.get("outputs") or {}).get("generate") or {}).get(GENERATIONS)
                                 or {}).get("sha256")}
        recorded.update({f"{SCORES_DIR}/{m}.json": res.get("generations_sha256")
                         for m, res in self._score_files().items() if res.get("status") == "ok"})
        known = {where: h for where, h in recorded.items() if h}
        if not known:
            self.add("generations_hash", "skip", "no sha256 of the generations recorded (older run)")
            return
        bad = sorted(where for where, h in known.items() if h != now)
        if bad:
            self.add("generations_hash", "fail", f"{GENERATIONS} changed since it was recorded and scored: sha256 "
                     f"{now[:12]}... now, {known[bad[0]][:12]}... in {', '.join(bad)}", files=bad)
        else:
            self.add("generations_hash", "ok", f"sha256 {now[:12]}... equals the one recorded in "
                     f"{', '.join(sorted(known))}")

    def check_rescore(self) -> None:
        from .scoring import engine

        if not self.rows:
            self.rows = self.rundir.generations()
        ids = [r["id"] for r in self.rows]
        hyps, refs = [r["report"] for r in self.rows], [r["reference"] for r in self.rows]
        for name, stored in self._score_files().items():
            check = f"rescore:{name}"
            declared = engine.make_metric(name, self._options(name), cleaning=self.cleaning)
            if self.tolerance is not None:
                tol, rule = self.tolerance, f"tolerance {self.tolerance:g} (--tolerance)"
            else:
                tol = declared.reproducibility_tolerance()
                rule = ("exact (declared by the metric)" if tol == 0
                        else f"float, tolerance {tol:g} (declared by the metric)")
            if stored.get("status") != "ok":
                self.add(check, "skip", f"stored result is '{stored.get('status')}': {stored.get('reason', '')}")
                continue
            res = engine.score([name], ids, hyps, refs, options={name: self._options(name)},
                               bootstrap=int(stored.get("bootstrap") or 0),
                               seed=self.spec.seed,  # recomputed: never read from the score cache
                               cleaning=self.cleaning, cache=False)[name]
            if res.get("status") != "ok":
                self.add(check, "skip", f"cannot re-score here: {res.get('reason', '')}")
                continue
            dev = _max_deviation(stored.get("scores", {}), res.get("scores", {}))
            dev_ci = _max_deviation(_flat_ci(stored.get("ci95", {})), _flat_ci(res.get("ci95", {})))
            samples_path = self.rundir.samples_path(name)
            stored_rows = read_sample_rows(samples_path) if samples_path.exists() else []
            dev_rows = max((_max_deviation(a, b) for a, b in zip(stored_rows, res.get("per_sample") or [])),
                           default=0.0)
            if len(stored_rows) != len(res.get("per_sample") or []):
                dev_rows = math.inf
            worst = max(dev, dev_ci, dev_rows)
            detail = f"max |delta| scores {dev:.3g}, ci95 {dev_ci:.3g}, per-sample {dev_rows:.3g} ({rule})"
            self.add(check, "ok" if worst <= tol else "fail", detail, max_deviation=worst, tolerance=tol)

    def check_regenerate(self) -> None:
        """Regenerate a nested random subset of the samples through the runner's own generation path."""
        if not self.rows:
            self.rows = self.rundir.generations()
        ids = sorted(r["id"] for r in self.rows)
        rng = random.Random(self.sample_seed)
        rng.shuffle(ids)  # nested: the first N of one shuffle, so a larger N includes a smaller N's samples
        chosen = set(ids[: self.regenerate])
        by_id = {s.id: s for s in self.dataset.split(self.spec.split)}
        samples = [by_id[r["id"]] for r in self.rows if r["id"] in chosen]
        stored = {r["id"]: r["report"] for r in self.rows}
        with tempfile.TemporaryDirectory(prefix="rrgbench-audit-") as tmp:
            new = self.runner.regenerate(samples, Path(tmp))
        device = self.runner.record.get("device") or "cpu"
        distances = [1.0 - difflib.SequenceMatcher(None, stored[s.id], r).ratio() for s, r in zip(samples, new)]
        differing = [s.id for s, r in zip(samples, new) if stored[s.id] != r]
        mean_dist = sum(distances) / max(1, len(distances))
        tol = self.tolerance if self.tolerance is not None else (0.0 if device == "cpu" else GPU_TOLERANCE)
        ok = not differing if tol == 0 else mean_dist <= tol
        detail = (f"{len(samples) - len(differing)}/{len(samples)} regenerated reports identical on {device}; "
                  f"mean normalised edit distance {mean_dist:.4f} (tolerance {tol:g})"
                  + (f"; first differing: {differing[0]}" if differing else ""))
        self.add("regenerate", "ok" if ok else "fail", detail, differing=differing, mean_distance=mean_dist)

    def against_paper(self) -> None:
        from .leaderboard.reported import load_reported

        entries = load_reported(self.spec.method).get(self.spec.dataset, [])
        rows: list[dict[str, Any]] = []
        for entry in entries:
            for name, stored in self._score_files().items():
                if entry["metric"] and entry["metric"] != name:
                    continue
                if stored.get("status") != "ok" or not str(stored.get("signature", "")).startswith(entry["prefix"]):
                    continue
                for key, value in entry["scores"].items():
                    if key in stored.get("scores", {}):
                        ci = stored.get("ci95", {}).get(key)
                        rows.append({"metric": name, "score": key, "reported": value,
                                     "reproduced": stored["scores"][key], "ci95": ci,
                                     "within_ci": bool(ci and ci[0] <= value <= ci[1]),
                                     "signature": stored["signature"], "source": entry["source"]})
        self.report.paper = rows
        if not rows:
            self.report.paper_note = "no reported numbers under this protocol"

    # -- driver ---------------------------------------------------------------------------------
    def run(self, against_paper: bool) -> AuditReport:
        if not self.check_schema():
            return self.report
        from .env import capture
        from .plugins import get_host

        self.guarded("files", self.check_files)
        self.guarded("generation_ids", self.check_generation_ids)
        self.guarded("dataset_manifest", self.check_manifest)
        self.guarded("checkpoint", self.check_checkpoint)
        self.guarded("signatures", self.check_signatures)
        self.guarded("packages", lambda: self.check_packages_and_env(capture(get_host().env_info())))
        if self.rundir.has_generations():
            self.guarded("generations_hash", self.check_generations_hash)
            self.guarded("rescore", self.check_rescore)
        if self.regenerate > 0:
            if any(c.name == "checkpoint" and c.status == "fail" for c in self.report.checks):
                self.add("regenerate", "skip", "checkpoint does not match its record")
            else:
                self.guarded("regenerate", self.check_regenerate)
        if against_paper:
            self.guarded("against_paper", self.against_paper)
        return self.report


def _flat_ci(ci: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, pair in ci.items():
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            out[f"{key}.lo"], out[f"{key}.hi"] = pair
    return out


def _max_deviation(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Largest absolute difference over the numeric keys of two dicts (inf if keys or kinds differ)."""
    keys = {k for k, v in a.items() if isinstance(v, (int, float))} | {
        k for k, v in b.items() if isinstance(v, (int, float))}
    worst = 0.0
    for k in keys:
        x, y = a.get(k), b.get(k)
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            return math.inf
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        worst = max(worst, abs(float(x) - float(y)))
    for k in set(a) | set(b):  # non-numeric fields (ids) must match exactly
        if k not in keys and a.get(k) != b.get(k):
            return math.inf
    return worst


def audit_run(run_dir: Path, *, regenerate: int = 0, tolerance: float | None = None,
              data_dir: Path | None = None, against_paper: bool = False, sample_seed: int = 0) -> AuditReport:
    """Audit one run directory; see the module docstring for the checks."""
    return _Auditor(Path(run_dir), regenerate=regenerate, tolerance=tolerance, data_dir=data_dir,
                    sample_seed=sample_seed).run(against_paper)


def format_report(report: AuditReport) -> str:
    """Human-readable lines for one audit."""
    mark = {"ok": "ok  ", "fail": "FAIL", "warn": "warn", "skip": "skip"}
    lines = [f"{'PASS' if report.ok else 'FAIL'} {report.run_dir}"]
    for c in report.checks:
        lines.append(f"  {mark.get(c.status, c.status)} {c.name:<22} {c.detail}")
    if report.paper is not None:
        lines.append("  against the paper (same protocol):")
        if not report.paper:
            lines.append(f"    {report.paper_note}")
        for row in report.paper:
            ci = row["ci95"]
            ci_text = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
            lines.append(f"    {row['metric']}/{row['score']:<24} reproduced {row['reproduced']:.4f}{ci_text}  "
                         f"reported {row['reported']:.4f}{'  (within CI)' if row['within_ci'] else ''}"
                         f"  source: {row['source']}")
    return "\n".join(lines)


def to_json(reports: list[AuditReport]) -> str:
    return json.dumps({"ok": all(r.ok for r in reports), "runs": [r.to_dict() for r in reports]}, indent=2,
                      sort_keys=True, default=str)

"""The notebook API: ``rrgbench.score``, ``rrgbench.compare``, ``rrgbench.load_run``.

::

    import rrgbench
    r = rrgbench.score(hyps, refs, metrics=["nlg", "chexpert_rules"], bootstrap=1000)
    r["bleu_4"], r.ci95["bleu_4"], r.signatures["nlg"], r.samples  # pandas DataFrame, one row per sample

Same engine, cache and numbers as ``rrgbench score`` (the CLI is a thin layer over these functions).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd



class Scores(Mapping[str, float]):
    """Scores of one system: a read-only mapping ``score key -> value`` over every available metric.

    ``ci95[key]`` is ``(low, high)``; ``signatures[metric]`` the metric's signature; ``unavailable[metric]``
    why a metric could not run; ``samples`` a DataFrame of per-sample scores indexed by id;
    ``results[metric]`` the raw :class:`~rrgbench.scoring.engine.MetricResult`.
    """

    def __init__(self, results: Mapping[str, Mapping[str, Any]], n: int, bootstrap: int = 0, seed: int = 0) -> None:
        self.results = {name: dict(res) for name, res in results.items()}
        self.n, self.bootstrap, self.seed = n, bootstrap, seed
        self._values: dict[str, float] = {}
        self.ci95: dict[str, tuple[float, float]] = {}
        self.metric_of: dict[str, str] = {}
        for name, res in self.results.items():
            if res.get("status") != "ok":
                continue
            for key, value in res.get("scores", {}).items():
                self._values[key] = float(value)
                self.metric_of[key] = name
                if key in (res.get("ci95") or {}):
                    lo, hi = res["ci95"][key]
                    self.ci95[key] = (float(lo), float(hi))

    @property
    def signatures(self) -> dict[str, str]:
        return {name: str(res.get("signature", "")) for name, res in self.results.items()}

    @property
    def unavailable(self) -> dict[str, str]:
        return {name: str(res.get("reason", "")) for name, res in self.results.items() if res.get("status") != "ok"}

    def __getitem__(self, key: str) -> float:
        if key in self._values:
            return self._values[key]
        hint = f"; unavailable metrics: {', '.join(self.unavailable)}" if self.unavailable else ""
        raise KeyError(f"no score '{key}' (scores: {', '.join(self._values)}){hint}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def samples(self) -> pd.DataFrame:
        """Per-sample scores, one row per sample id, one column per per-sample key (``metric.key`` on clashes)."""
        import pandas as pd

        frames = []
        seen: set[str] = set()
        for name, res in self.results.items():
            rows = res.get("per_sample")
            if res.get("status") != "ok" or not rows:
                continue
            frame = pd.DataFrame(rows).set_index("id")
            frames.append(frame.rename(columns={c: f"{name}.{c}" for c in frame.columns if c in seen}))
            seen.update(frame.columns)
        return pd.concat(frames, axis=1) if frames else pd.DataFrame()

    def to_dict(self) -> dict[str, Any]:
        """The object ``rrgbench score --json`` prints: score keys at the top level, ``ci95``, ``signatures``,
        ``unavailable`` beside them."""
        out: dict[str, Any] = {"n": self.n, "bootstrap": self.bootstrap, "seed": self.seed, "keys": list(self._values),
                               "ci95": {k: list(v) for k, v in self.ci95.items()}, "signatures": self.signatures,
                               "unavailable": self.unavailable}
        out.update(self._values)
        return out

    def __repr__(self) -> str:
        lines = [f"<rrgbench.Scores n={self.n}"]
        for key, value in self._values.items():
            ci = self.ci95.get(key)
            lines.append(f"  {key:<28} {value:.4f}" + (f"  [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""))
        lines += [f"  {name}: unavailable ({reason.split('. ')[0]})" for name, reason in self.unavailable.items()]
        return "\n".join(lines) + ">"


def _as_list(texts: Sequence[str] | Mapping[str, str], what: str) -> list[str]:
    from .api import RRGBenchError

    if isinstance(texts, str):
        raise RRGBenchError(f"{what}: expected a list of reports, got one string")
    return list(texts.values()) if isinstance(texts, Mapping) else list(texts)


def score(hyps: Sequence[str], refs: Sequence[str], metrics: Sequence[str] | str | None = None, *,
          ids: Sequence[str] | None = None, bootstrap: int = 1000, seed: int = 0, cleaning: str = "r2gen_iu",
          options: dict[str, dict[str, Any]] | None = None, cache: bool = True) -> Scores:
    """Score hypotheses against references (paired by position; ``ids`` default to ``"0", "1", …``).

    ``metrics``: names or a comma-separated string (default: the default suite, :func:`rrgbench.specs.default_metrics`); names match
    case- and punctuation-insensitively. ``bootstrap`` resamples give the 95% CIs (0: none). An
    unavailable metric is listed in ``.unavailable`` with the reason, never given a number.
    """
    from .scoring import engine
    from .specs import default_metrics

    names = [m.strip() for m in metrics.split(",") if m.strip()] if isinstance(metrics, str) else \
        list(metrics or default_metrics())
    hyps_l, refs_l = _as_list(hyps, "hyps"), _as_list(refs, "refs")
    id_list = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(hyps_l))]
    results = engine.score(names, id_list, hyps_l, refs_l, options=options, bootstrap=bootstrap, seed=seed,
                           cleaning=cleaning, cache=cache)
    return Scores(results, n=len(id_list), bootstrap=bootstrap, seed=seed)


def compare(a: Sequence[str] | str | Path, b: Sequence[str] | str | Path, refs: Sequence[str] | None = None,
            metrics: Sequence[str] | None = None, *, bootstrap: int = 1000, trials: int = 1000, seed: int = 0,
            cleaning: str = "r2gen_iu") -> dict[str, Any]:
    """Paired comparison of two systems: two run directories (as ``rrgbench compare``) or two lists of
    hypotheses with their ``refs``. Returns per metric and key: A, B, delta, its 95% CI, bootstrap and
    randomization p-values, and both Holm-adjusted over every key compared."""
    from .api import RRGBenchError
    from .commands.compare import compare_runs, compare_texts
    from .specs import default_metrics

    if isinstance(a, (str, Path)) and isinstance(b, (str, Path)):
        return compare_runs(Path(a), Path(b), list(metrics) if metrics else None, bootstrap=bootstrap,
                            trials=trials, seed=seed)
    if refs is None:
        raise RRGBenchError("compare(a, b, refs): give refs when a and b are lists of hypotheses")
    return compare_texts(_as_list(a, "a"), _as_list(b, "b"), _as_list(refs, "refs"),
                         list(metrics or default_metrics()), cleaning=cleaning, bootstrap=bootstrap, trials=trials,
                         seed=seed)


class Run:
    """One run directory: ``record`` (run.json), ``spec``, ``status``, ``scores`` (:class:`Scores` from the
    stored results, no recomputation) and ``generations`` (a DataFrame: id, report, reference)."""

    def __init__(self, path: str | Path) -> None:
        from .rundir import RunDir

        self.path = Path(path)
        self.dir = RunDir(self.path)
        self.record = self.dir.record

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.record["spec"])

    @property
    def status(self) -> dict[str, str]:
        return dict(self.record["status"])

    @property
    def scores(self) -> Scores:
        from .rundir import read_sample_rows, recorded_metrics

        results: dict[str, dict[str, Any]] = {}
        for name in recorded_metrics(self.record, self.path):
            sf = self.dir.score(name)
            if sf is None:
                continue
            res = dict(sf.raw)
            if sf.samples_path is not None:
                res["per_sample"] = read_sample_rows(sf.samples_path)
            results[name] = res
        n = next((int(r["n"]) for r in results.values() if r.get("n")), 0)
        boot = next((int(r["bootstrap"]) for r in results.values() if r.get("bootstrap")), 0)
        return Scores(results, n=n, bootstrap=boot, seed=int(self.spec.get("seed", 0)))

    @property
    def generations(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.dir.generations())

    def __repr__(self) -> str:
        spec = self.spec
        return f"<rrgbench.Run {spec.get('method')} on {spec.get('dataset')} seed {spec.get('seed')}: {self.path}>"


def load_run(path: str | Path) -> Run:
    """Open a run directory (any schema version) for reading."""
    return Run(path)

"""The frozen run specification and its hash (HELM's RunSpec, lighteval's config hash).

A :class:`RunSpec` names everything that determines a run's generations (method, config, data, seed,
split, section, limit). Its canonical JSON is hashed; the hash keys the run directory, so the same spec
always lands in, and resumes, the same directory. ``metrics`` rides along as the metrics to score but is
outside the hash: scoring is its own stage, so other metrics reuse the checkpoint and the generations.

Records of schema 1 hashed the metrics too; :func:`spec_hash_of` recomputes either form.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .api import SPLITS, RRGBenchError

SCHEMA_VERSION = 2  # 2: metrics left the spec hash (scoring is its own stage)
NOT_HASHED = ("metrics", "metric_options")  # spec fields that do not determine the generations


def default_metrics() -> tuple[str, ...]:
    """The default suite of ``run``, ``score``, ``sweep`` and the Python API: every installed metric whose class
    sets :attr:`rrgbench.api.Metric.default_suite` (one that fails to import is left out), by name."""
    from .plugins import get_host

    metrics = get_host().metrics
    names = []
    for name in metrics.names():
        try:
            if metrics.get(name).default_suite:
                names.append(name)
        except RRGBenchError:
            continue
    return tuple(names)


@dataclass(frozen=True)
class RunSpec:
    """What to run. ``config`` is the method's full configuration (preset defaults + overrides)."""

    method: str
    dataset: str
    preset: str = "tiny"
    seed: int = 0
    split: str = "test"
    section: str = "findings"
    limit: int | None = None
    metrics: tuple[str, ...] = field(default_factory=default_metrics)
    config: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    # content hashes of the pretrained assets the method resolved here ({name: "sha256:..."}); set by
    # build_spec, left out of the dict (and so of the hash) when empty
    assets: dict[str, str] = field(default_factory=dict)
    # per-metric constructor options, e.g. {"nlg": {"protocol": "ptb"}} (``--metric-opt nlg.protocol=ptb``);
    # like ``metrics`` outside the hash: they change the scores (and the signature), not the generations
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = list(self.metrics)
        for key in ("assets", "metric_options"):  # left out when empty: older specs had neither
            if not d[key]:
                del d[key]
        return d

    def generation_dict(self) -> dict[str, Any]:
        """The hashed fields: everything that determines the generations (not the metrics)."""
        return {k: v for k, v in self.to_dict().items() if k not in NOT_HASHED}

    def canonical_json(self) -> str:
        return _canonical(self.generation_dict())

    @property
    def spec_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()[:12]

    def run_dir(self, runs_dir: Path) -> Path:
        return Path(runs_dir) / self.dataset / self.method / f"{self.preset}-seed{self.seed}-{self.spec_hash}"


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash_of(spec: RunSpec, schema_version: int = SCHEMA_VERSION,
                 recorded: dict[str, Any] | None = None) -> str:
    """``spec``'s hash as a record of ``schema_version`` computed it (1: metrics were hashed, taken from
    the ``recorded`` spec dict when given)."""
    if schema_version >= 2:
        return spec.spec_hash
    data = {k: v for k, v in spec.to_dict().items() if k != "metric_options"}  # not hashed in schema 1 either
    if recorded is not None and "metrics" in recorded:
        data["metrics"] = list(recorded["metrics"])
    return hashlib.sha256(_canonical(data).encode("utf-8")).hexdigest()[:12]


_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,), "dataset": (str,), "preset": (str,), "seed": (int,), "split": (str,),
    "section": (str,), "limit": (int, type(None)), "metrics": (list, tuple), "config": (dict,),
    "dataset_options": (dict,), "assets": (dict,), "metric_options": (dict,),
}


def spec_from_dict(data: Any, source: str = "spec") -> RunSpec:
    """Validate a JSON/YAML mapping and build a :class:`RunSpec`; errors name the field and the file."""
    if not isinstance(data, dict):
        raise RRGBenchError(f"{source}: expected a mapping of run-spec fields, got {type(data).__name__}")
    known = {f.name for f in fields(RunSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RRGBenchError(f"{source}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    for key in ("method", "dataset"):
        if key not in data:
            raise RRGBenchError(f"{source}: missing required field '{key}'")
    for key, value in data.items():
        allowed = _TYPES[key]
        bad_bool = isinstance(value, bool) and int in allowed
        if bad_bool or not isinstance(value, allowed):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise RRGBenchError(f"{source}: field '{key}' must be {want}, got {type(value).__name__} {value!r}")
    if "metrics" in data and not all(isinstance(m, str) for m in data["metrics"]):
        raise RRGBenchError(f"{source}: field 'metrics' must be a list of metric names")
    bad = [m for m, o in (data.get("metric_options") or {}).items() if not isinstance(o, dict)]
    if bad:
        raise RRGBenchError(f"{source}: field 'metric_options' maps metric names to objects of options "
                            f"(e.g. {{\"nlg\": {{\"protocol\": \"ptb\"}}}}); '{bad[0]}' is not an object")
    if data.get("split", "test") not in SPLITS:
        raise RRGBenchError(f"{source}: field 'split' must be one of {', '.join(SPLITS)}")
    if data.get("limit") is not None and data["limit"] <= 0:
        raise RRGBenchError(f"{source}: field 'limit' must be a positive integer")
    data = dict(data)
    if "metrics" in data:
        data["metrics"] = tuple(data["metrics"])
    return RunSpec(**data)


def parse_metric_opts(items: tuple[str, ...] | list[str], metrics: list[str] | tuple[str, ...] | None = None,
                      flag: str = "--metric-opt") -> dict[str, dict[str, Any]]:
    """``NAME.key=value`` items as ``{NAME: {key: value}}`` (values parsed as ``--set`` values are). The one
    form of metric options for ``run``, ``score``, ``sweep`` and ``compare``; with ``metrics`` given, NAME must
    be one of them."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key = item.partition("=")[0]
        name, dot, _ = key.partition(".")
        if not dot or not name or "=" not in item:
            raise RRGBenchError(f"{flag} expects NAME.key=value, got '{item}'")
        if metrics is not None and name not in metrics:
            raise RRGBenchError(f"{flag} {item}: metric '{name}' is not among the scored metrics "
                                f"({', '.join(metrics)})")
        out.setdefault(name, {}).update(parse_overrides([item[len(name) + 1:]], flag=flag))
    return out


def load_spec_file(path: Path) -> dict[str, Any]:
    """Read a run-spec file (JSON, or YAML by extension)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RRGBenchError(f"{path}: cannot read spec file ({exc})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is one user-facing line
        raise RRGBenchError(f"{path}: cannot parse spec file ({type(exc).__name__}: {exc})") from None


def parse_overrides(items: tuple[str, ...] | list[str], flag: str = "--set") -> dict[str, Any]:
    """``key=value`` pairs (value parsed as JSON when it can be, else a string); dots nest keys."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise RRGBenchError(f"{flag} expects key=value, got '{item}'")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in override.items():
        merged[k] = deep_merge(merged[k], v) if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
    return merged

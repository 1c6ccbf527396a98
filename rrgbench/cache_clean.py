"""Find cache entries that nothing current can use any more: ``rrgbench cache clean``.

Three kinds of entries under the cache root are judged (all are caches: deleting one only costs a rebuild):

* image caches ``images/<dataset>-<fingerprint16>-<size>/`` (:mod:`rrgbench.data.imagecache`): kept when
  ``<fingerprint16>`` starts the current fingerprint of that dataset as prepared with its default options
  (its ``root()``, or a ``--data-dir`` given), in any report section, fingerprint mode or ``skip_bad`` setting; stale when the
  data changed, was removed, or the dataset is no longer registered.
* score-cache folders ``scores/<sha(signature)[:16]>/`` (:mod:`rrgbench.scoring.cache`): kept when their
  ``signature.txt`` is the signature the installed code gives to a registered metric with its default options
  (for every registered dataset's cleaning protocol), or with the metrics and options of a run record under
  the runs folder; stale otherwise (a new rrgbench, library or rule version changes the signature, so such
  an entry can never be hit again). Entries of ad-hoc ``--metric-opt`` settings that no run records are
  stale too.
* label caches ``labels/<signature>.jsonl`` (:mod:`rrgbench.clinical.cache`; chexbert, RadGraph and UMLS's
  scispacy backend persist theirs, each keyed its own way, mostly by the id of its weights file): kept when a
  current metric setting (as for the score cache) or a registered labeler with default options reads that
  file; stale otherwise, e.g. labels of replaced weights, or of labelers that no longer persist
  (chexpert_rules, the UMLS lexicon). Labels made with ad-hoc labeler options (``rrgbench label
  --checkpoint``) that no run records are stale too.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import cache_root, data_root

log = logging.getLogger("rrgbench.cache")

_IMAGE_DIR = re.compile(r"^(?P<dataset>.+)-(?P<fp>[0-9a-f]{16})-(?P<size>\d+)$")


@dataclass
class Stale:
    """One cache entry that would be deleted: what it is, where, how big and why."""

    kind: str  # "images" | "scores" | "labels"
    path: Path
    bytes: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "bytes": self.bytes, "reason": self.reason}


def tree_bytes(path: Path) -> int:
    """Total size of the files under ``path`` (symbolic links not followed)."""
    total = 0
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            continue
    return total


# -------------------------------------------------------------------------------------- image caches


def _fingerprints(name: str, root: Path, wanted: set[str]) -> set[str]:
    """16-hex prefixes of ``name``'s fingerprints at ``root`` (stops once every ``wanted`` prefix is found)."""
    from .api import RRGBenchError
    from .data.layout import SECTIONS
    from .data.manifest import FINGERPRINT_MODES
    from .plugins import get_host

    cls = get_host().datasets.get(name)
    found: set[str] = set()
    for mode in FINGERPRINT_MODES:
        for section in SECTIONS:
            for skip_bad in (False, True):
                if wanted <= found:
                    return found
                try:
                    ds = cls(data_dir=root, section=section, skip_bad=skip_bad, fingerprint=mode)
                    found.add(ds.manifest_hash()[:16])
                except (RRGBenchError, TypeError, ValueError, OSError) as exc:
                    log.debug("dataset %s at %s (%s, %s, skip_bad=%s): %s", name, root, section, mode, skip_bad, exc)
    return found


def _default_root(cls: Any, name: str) -> Path:
    """Where dataset ``name`` is prepared with its default options: its own ``root()`` (phantom datasets use
    an options subfolder), else ``$RRGBENCH_DATA/<name>``."""
    try:
        return Path(cls().root())
    except Exception as exc:  # noqa: BLE001 - a dataset that cannot be built with defaults: the plain folder
        log.debug("dataset %s: no default root (%s)", name, exc)
        return data_root(name)


def stale_image_caches(data_dirs: dict[str, Path] | None = None) -> Iterator[Stale]:
    """Image caches whose dataset fingerprint matches no dataset prepared now (see the module docstring)."""
    from .plugins import get_host

    base = cache_root() / "images"
    if not base.is_dir():
        return
    by_dataset: dict[str, list[tuple[Path, str]]] = {}
    for d in sorted(base.iterdir()):
        m = _IMAGE_DIR.match(d.name)
        if d.is_dir() and m:
            by_dataset.setdefault(m["dataset"], []).append((d, m["fp"]))
    datasets = get_host().datasets
    for name, dirs in by_dataset.items():
        if name not in datasets:
            for d, _ in dirs:
                yield Stale("images", d, tree_bytes(d), f"dataset '{name}' is not registered")
            continue
        root = (data_dirs or {}).get(name) or _default_root(datasets.get(name), name)
        if not (root / "annotation.json").is_file():
            for d, _ in dirs:
                yield Stale("images", d, tree_bytes(d), f"dataset '{name}' is not prepared at {root}")
            continue
        current = _fingerprints(name, root, {fp for _, fp in dirs})
        for d, fp in dirs:
            if fp not in current:
                yield Stale("images", d, tree_bytes(d), f"fingerprint {fp} is not the current one of '{name}' "
                                                        f"at {root} (the data changed)")


# --------------------------------------------------------------------------------------- score cache


def _metric_configs(runs_dir: Path | None) -> list[tuple[str, dict[str, Any], str | None]]:
    """``(metric, options, cleaning)``: registered metrics with default options under every registered
    dataset's cleaning protocol, plus the metrics and options of each run record under ``runs_dir``."""
    from .plugins import get_host
    from .rundir import find_runs, load_record

    host = get_host()
    cleanings = {getattr(host.datasets.get(d), "cleaning", None) for d in host.datasets.names()} | {None}
    configs: list[tuple[str, dict[str, Any], str | None]] = [
        (m, {}, c) for m in host.metrics.names() for c in sorted(cleanings, key=str)]
    if runs_dir is not None and runs_dir.is_dir():
        for run in find_runs(runs_dir):
            try:
                record = load_record(run)
                spec = record.get("spec", {})
                cleaning = record.get("dataset", {}).get("cleaning", "r2gen_iu")  # as the runner scores it
            except Exception:  # noqa: BLE001 - an unreadable run names nothing current
                continue
            options = spec.get("metric_options") or {}
            configs += [(m, dict(options.get(m) or {}), cleaning) for m in spec.get("metrics") or ()]
    return configs


def current_metrics(runs_dir: Path | None = None) -> list[tuple[str, Any]]:
    """``(name, metric)`` built once per distinct setting of :func:`_metric_configs` (a setting that cannot be
    built is left out: it has no current signature and reads no cache)."""
    from .scoring.engine import make_metric

    out: list[tuple[str, Any]] = []
    seen: set[tuple[str, str, str | None]] = set()
    for name, options, cleaning in _metric_configs(runs_dir):
        key = (name, repr(sorted(options.items())), cleaning)
        if key in seen:
            continue
        seen.add(key)
        try:
            out.append((name, make_metric(name, options, cleaning)))
        except Exception as exc:  # noqa: BLE001
            log.debug("metric %s %s: cannot be built (%s)", name, options, exc)
    return out


def stale_score_entries(metrics: list[tuple[str, Any]]) -> Iterator[Stale]:
    """Score-cache folders whose signature none of the current ``metrics`` (:func:`current_metrics`) gives."""
    base = cache_root() / "scores"
    if not base.is_dir():
        return
    current = set()
    for name, metric in metrics:
        try:
            current.add(metric.signature())
        except Exception as exc:  # noqa: BLE001 - a metric that cannot say its signature has no current one
            log.debug("metric %s: no signature (%s)", name, exc)
    for d in sorted(base.iterdir()):
        if not d.is_dir():
            continue
        try:
            signature = (d / "signature.txt").read_text(encoding="utf-8").strip()
        except OSError:
            yield Stale("scores", d, tree_bytes(d), "no signature.txt")
            continue
        if signature not in current:
            head = signature.split("|", 1)[0]
            yield Stale("scores", d, tree_bytes(d), f"signature {head}|… is not one the installed metrics give")


# --------------------------------------------------------------------------------------- label caches


def metric_label_caches(metric: Any) -> list[str]:
    """Signatures of the persisted label caches ``metric`` reads: what it declares
    (:meth:`rrgbench.api.Metric.label_caches`), else those of the built-in readers, named here because their
    modules are hashed into their score signatures (editing them would change every stored signature): a CE
    metric's labeler when it persists (chexbert), RadGraph's annotations, UMLS's scispacy concepts."""
    declared = list(metric.label_caches())
    if declared:
        return declared
    if getattr(metric, "labeler_name", None) is not None:  # CE metrics: rrgbench.clinical.label_reports
        from .clinical import get_labeler

        impl = get_labeler(metric.labeler_name, **getattr(metric, "labeler_options", {}))
        return [impl.signature()] if getattr(impl, "persist_cache", False) else []
    annotator = getattr(metric, "annotator", None)
    if metric.name == "radgraph" and annotator is not None:  # RadGraphMetric._annotate
        return [f"radgraph@{annotator.model_type}:{annotator.identity()}"]
    backend = getattr(metric, "backend", None)
    if metric.name == "umls" and backend is not None and backend.name != "lexicon":  # UMLSFactuality._concepts
        return [f"umls@{backend.signature()}"]
    return []


def current_label_caches(metrics: list[tuple[str, Any]]) -> dict[str, str]:
    """``{file name: reader}`` of the label caches the installed code reads: those of the current ``metrics``
    (:func:`current_metrics`, :func:`metric_label_caches`) and of every registered labeler that persists
    its labels, with its default options (what ``label_reports(texts, labeler)`` uses)."""
    from .clinical import get_labeler
    from .clinical.cache import LabelCache
    from .plugins import get_host

    out: dict[str, str] = {}
    for name, metric in metrics:
        try:
            for sig in metric_label_caches(metric):
                out.setdefault(LabelCache(sig).path.name, f"metric {name}")
        except Exception as exc:  # noqa: BLE001 - a metric that cannot name its caches reads nothing
            log.debug("metric %s: no label caches (%s)", name, exc)
    for name in get_host().labelers.names():
        try:
            impl = get_labeler(name)
            if getattr(impl, "persist_cache", False):
                out.setdefault(LabelCache(impl.signature()).path.name, f"labeler {name}")
        except Exception as exc:  # noqa: BLE001
            log.debug("labeler %s: no signature (%s)", name, exc)
    return out


def stale_label_caches(metrics: list[tuple[str, Any]]) -> Iterator[Stale]:
    """Label-cache files ``labels/*.jsonl`` that no current labeler or metric setting reads
    (:func:`current_label_caches`): their labeler's weights, code or version changed, or it no longer
    persists its labels (chexpert_rules, UMLS's lexicon backend)."""
    base = cache_root() / "labels"
    if not base.is_dir():
        return
    current = current_label_caches(metrics)
    families: dict[str, list[str]] = {}
    for fname in current:
        families.setdefault(fname.split("@", 1)[0], []).append(fname)
    for f in sorted(base.glob("*.jsonl")):
        if f.name in current or not f.is_file():
            continue
        family = f.name.split("@", 1)[0]
        if family in families:
            reason = (f"{family} labels of other weights, code or version; current: "
                      f"{', '.join(sorted(families[family]))}")
        else:
            reason = f"no installed labeler or metric setting reads {family} labels from a file"
        yield Stale("labels", f, tree_bytes(f), reason)


def stale_entries(runs_dir: Path | None = None, data_dirs: dict[str, Path] | None = None) -> list[Stale]:
    """Every stale entry; the current metric settings are built once for the score and label caches."""
    metrics = current_metrics(runs_dir)
    return [*stale_image_caches(data_dirs), *stale_score_entries(metrics), *stale_label_caches(metrics)]


def remove(entries: Iterable[Stale]) -> int:
    """Delete the entries (folders or files); returns the bytes freed."""
    freed = 0
    for e in entries:
        if e.path.is_dir() and not e.path.is_symlink():
            shutil.rmtree(e.path, ignore_errors=True)
        else:
            try:
                e.path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot delete %s: %s", e.path, exc)
        if not e.path.exists():
            freed += e.bytes
    return freed

"""The per-sample viewer's data: texts, thumbnails, per-sample scores and label disagreements."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..api import CHEXPERT_LABELS
from ..io import atomic_write_bytes
from . import display
from .records import BoardRun, inside, load_generations, load_sample_scores

log = logging.getLogger("rrgbench.leaderboard")

_IMAGE_KEYS = ("image_paths", "images", "image_path")


@dataclass
class SampleView:
    id: str
    report: str
    reference: str
    scores: dict[str, float] = field(default_factory=dict)  # column id -> value
    labels: list[tuple[str, Any, Any]] = field(default_factory=list)  # (label, hyp, ref)
    thumbs: list[str] = field(default_factory=list)  # site-relative paths

    @cached_property
    def disagreements(self) -> frozenset[str]:
        """Labels where exactly one of the two reports is positive (set once ``labels`` is final)."""
        return frozenset(lab for lab, h, r in self.labels if _pos(h) != _pos(r))


def _pos(v: Any) -> bool:
    return v == 1


def _label_dict(value: Any) -> dict[str, Any] | None:
    """A ``{label: state}`` dict from a dict or a 14-long list in CheXbert order."""
    if isinstance(value, dict) and sum(k in CHEXPERT_LABELS for k in value) >= 5:
        return {k: value.get(k) for k in CHEXPERT_LABELS if k in value}
    if isinstance(value, list) and len(value) == len(CHEXPERT_LABELS):
        return dict(zip(CHEXPERT_LABELS, value))
    return None


def split_labels(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(hypothesis labels, reference labels) from a per-sample CE row, or None when it has none."""
    hyp = ref = None
    for key, value in row.items():
        labels = _label_dict(value)
        if labels is None:
            continue
        low = key.lower()
        if any(t in low for t in ("hyp", "pred", "gen")):
            hyp = labels
        elif any(t in low for t in ("ref", "gt", "target", "true")):
            ref = labels
    return (hyp, ref) if hyp is not None and ref is not None else None


def _label_order(labels: set[str] | list[str]) -> list[str]:
    return [lab for lab in CHEXPERT_LABELS if lab in labels] + sorted(set(labels) - set(CHEXPERT_LABELS))


def per_label_f1(rec: BoardRun) -> tuple[str, list[str], list[float], list[int]] | None:
    """Per-label F1 for the chart, from the first metric (by group, then name) that has per-label results:
    its ``per_label`` table, else its per-label F1 keys (as its display facts name them), else the label
    states in its per-sample rows."""
    for metric, sf in sorted(rec.scores.items(), key=lambda kv: (display.group_rank(kv[1].display_facts().group),
                                                                  kv[0])):
        if sf.status != "ok":
            continue
        facts = sf.display_facts()
        per = sf.raw.get("per_label")
        if isinstance(per, dict) and per:
            labels = [lab for lab in CHEXPERT_LABELS if lab in per] or sorted(per)
            vals = [float((per[lab] or {}).get("f1", math.nan)) if isinstance(per[lab], dict) else float(per[lab])
                    for lab in labels]
            support = [int(per[lab].get("support", 0)) for lab in labels] if all(
                isinstance(per[lab], dict) and "support" in per[lab] for lab in labels) else None
            return f"{metric}: per-label F1", labels, vals, support or []
        keyed = {facts.label_of(k): v for k, v in sf.scores.items()
                 if facts.label_of(k) and display.stat_of(k, facts.label_of(k) or "") == "f1"}
        if keyed:
            labels = _label_order(list(keyed))
            return f"{metric}: per-label F1", labels, [keyed[lab] for lab in labels], []
        rows = load_sample_scores(sf)
        counts = {lab: [0, 0, 0, 0] for lab in CHEXPERT_LABELS}  # tp, fp, fn, ref positives
        seen = False
        for row in rows.values():
            pair = split_labels(row)
            if pair is None:
                continue
            seen = True
            hyp, ref = pair
            for lab in counts:
                h, r = _pos(hyp.get(lab)), _pos(ref.get(lab))
                counts[lab][0] += h and r
                counts[lab][1] += h and not r
                counts[lab][2] += r and not h
                counts[lab][3] += r
        if seen:
            labels = list(CHEXPERT_LABELS)
            f1 = []
            for lab in labels:
                tp, fp, fn, _ = counts[lab]
                f1.append(2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else math.nan)
            return (f"{metric}: per-label F1 from per-sample labels (positive = 1)", labels, f1,
                    [counts[lab][3] for lab in labels])
    return None


def _image_paths(row: dict[str, Any]) -> list[str]:
    for key in _IMAGE_KEYS:
        val = row.get(key)
        if isinstance(val, str):
            return [val]
        if isinstance(val, list):
            return [str(v) for v in val]
    return []


def _dataset_images(rec: BoardRun, seen: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Image paths from the dataset plugin, only when its data is already on disk here and its manifest hash
    equals the run's (never prepares data; never shows images of different data).

    ``seen`` keeps the dataset, its paths and manifest hash per configuration, so runs on the same data load the
    dataset and hash its manifest once per build.
    """
    spec = rec.spec
    expected = (rec.run.get("dataset") or {}).get("manifest_hash")
    key = json.dumps([rec.dataset, spec.get("section") or "findings", spec.get("dataset_options") or {},
                      spec.get("split") or "test"], sort_keys=True, default=str)
    try:
        if key not in seen:
            from ..plugins import get_host

            cls = get_host().datasets.get(rec.dataset)
            ds = cls(section=spec.get("section") or "findings", **(spec.get("dataset_options") or {}))
            root = getattr(ds, "root", None)
            if root is None or not (Path(root()) / "annotation.json").is_file():
                log.info("no images for %s: dataset %s is not prepared here", rec.rel, rec.dataset)
                return {}
            samples = ds.split(spec.get("split") or "test")
            seen[key] = {"dataset": ds, "images": {s.id: list(s.image_paths) for s in samples}}
        entry = seen[key]
        if expected and "hash" not in entry:
            entry["hash"] = entry["dataset"].manifest_hash()
        if expected and entry["hash"] != expected:
            log.warning("no images for %s: dataset %s here differs from the run's (manifest hash)", rec.rel,
                        rec.dataset)
            return {}
        return entry["images"]
    except Exception as exc:  # noqa: BLE001 - thumbnails are optional
        log.info("no images for %s: %s", rec.rel, exc)
        return {}


class Thumbnails:
    """Small grayscale PNGs under ``<site>/thumbs/``, named by the source file's content hash, so an image
    shared by many runs is converted and stored once."""

    def __init__(self, site_dir: Path, size: int = 112) -> None:
        self.site_dir = site_dir
        self.size = size
        self.made: dict[str, str | None] = {}  # source path -> site-relative thumbnail (None: unreadable)
        self.sources: dict[str, dict[str, Any]] = {}  # dataset config -> dataset, image paths, manifest hash
        self.roots: dict[str, Path | None] = {}  # dataset config -> its data root here (None: unknown)
        self.refused: list[tuple[str, str]] = []  # (run, image path) outside the run's dataset root

    def confine(self, rec: BoardRun, path: str) -> Path | None:
        """``path`` resolved against the dataset root of ``rec`` on this machine, or None (refused and logged)
        when it escapes that root (``..``, an absolute path elsewhere, a symbolic link out) or no root is known.

        The root comes from the dataset plugin here (``$RRGBENCH_DATA``), never from the run record, so a
        record from a shared or downloaded runs folder cannot make the site publish any other file.
        """
        root = self._root(rec)
        if root is None:
            return None
        src = Path(path) if Path(path).is_absolute() else root / path
        if not inside(src, root):
            log.warning("refused image %s of run %s: outside the dataset root %s (symbolic links resolved)",
                        path, rec.rel, root)
            self.refused.append((rec.rel, str(path)))
            return None
        return src.resolve()

    def _root(self, rec: BoardRun) -> Path | None:
        spec = rec.spec
        key = json.dumps(["root", rec.dataset, spec.get("dataset_options") or {}], sort_keys=True, default=str)
        if key not in self.roots:
            root = None
            try:
                from ..plugins import get_host

                cls = get_host().datasets.get(rec.dataset)
                ds = cls(section=spec.get("section") or "findings", **(spec.get("dataset_options") or {}))
                root = Path(ds.root()).resolve(strict=True) if hasattr(ds, "root") else None
            except Exception as exc:  # noqa: BLE001 - no known root: no images for this run
                log.info("no images for %s: dataset root of %s unknown here (%s)", rec.rel, rec.dataset, exc)
            if root is None:
                log.info("no images for %s: dataset %s has no data root here", rec.rel, rec.dataset)
            self.roots[key] = root
        return self.roots[key]

    def get(self, src: Path) -> str | None:
        key = str(src)
        if key not in self.made:
            self.made[key] = self._make(src)
        return self.made[key]

    def _make(self, src: Path) -> str | None:
        import hashlib
        import io

        from PIL import Image

        try:
            data = src.read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im = im.convert("L")
                im.thumbnail((self.size, self.size))
                buf = io.BytesIO()
                im.save(buf, format="PNG", optimize=True)
        except (OSError, ValueError) as exc:
            log.info("thumbnail %s: %s", src, exc)
            return None
        rel = f"thumbs/{hashlib.sha256(data).hexdigest()[:20]}.png"
        if not (self.site_dir / rel).is_file():
            atomic_write_bytes(self.site_dir / rel, buf.getvalue())
        return rel

    @property
    def files(self) -> list[str]:
        return sorted({v for v in self.made.values() if v})


@dataclass
class SampleSet:
    views: list[SampleView] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)  # (column id "metric.key", label)
    label_source: str = ""


def build_samples(rec: BoardRun, thumbnails: Thumbnails | None = None) -> SampleSet:
    """Sample views of one run, its per-sample score columns and where the label states come from."""
    gens = load_generations(rec)
    if not gens:
        return SampleSet()
    per_metric = {m: load_sample_scores(sf) for m, sf in sorted(rec.scores.items()) if sf.status == "ok"}
    columns: dict[str, str] = {}
    facts = {m: rec.scores[m].display_facts() for m in per_metric}
    for metric, rows in per_metric.items():
        for row in rows.values():
            for key, val in row.items():
                if key != "id" and isinstance(val, (int, float)) and not isinstance(val, bool):
                    columns.setdefault(f"{metric}.{key}", facts[metric].label(key))
    def rank(cid: str) -> tuple[Any, ...]:  # each metric's primary key first, then headline keys, then the rest
        metric, key = cid.split(".", 1)
        f = facts[metric]
        tier = 0 if key == (f.primary or (f.headline[0] if f.headline else "")) else 1 if f.is_headline(key) else 2
        return (tier, display.group_rank(f.group), metric, f.key_rank(key))

    order = sorted(columns, key=rank)
    images: dict[str, list[str]] = {}
    if thumbnails is not None and not any(_image_paths(g) for g in gens[:1]):
        images = _dataset_images(rec, thumbnails.sources)
    views: list[SampleView] = []
    label_metric = ""  # the first metric whose per-sample rows carry (generated, reference) label states
    for g in gens:
        sid = str(g.get("id"))
        view = SampleView(id=sid, report=str(g.get("report", "")), reference=str(g.get("reference", "")))
        for metric, rows in per_metric.items():
            row = rows.get(sid)
            if not row:
                continue
            for key, val in row.items():
                cid = f"{metric}.{key}"
                if cid in columns:
                    view.scores[cid] = float(val)
            if not view.labels:
                pair = split_labels(row)
                if pair:
                    hyp, ref = pair
                    view.labels = [(lab, hyp.get(lab), ref.get(lab)) for lab in CHEXPERT_LABELS
                                   if lab in hyp or lab in ref]
                    label_metric = label_metric or metric
        if thumbnails is not None:
            for path in (_image_paths(g) or images.get(sid, []))[:2]:
                src = thumbnails.confine(rec, path)
                thumb = thumbnails.get(src) if src is not None else None
                if thumb:
                    view.thumbs.append(thumb)
        views.append(view)
    source = f"labels from scores/{label_metric}.samples.jsonl" if label_metric else ""
    return SampleSet(views, [(c, columns[c]) for c in order], source)

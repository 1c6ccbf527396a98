"""The plugin contracts: :class:`Dataset`, :class:`Method`, :class:`Metric` and :class:`Labeler`.

Hooks find classes (:mod:`rrgbench.hookspecs`); classes do the work. Every part of a contract is declared
here, optional parts with their default: a plugin overrides what it supports and inherits the rest. The
registry refuses a class that does not derive from its base, naming the plugin. A plugin's ``name`` and
``description`` are given once, when it is registered; the registry sets them on the class. This module imports nothing heavy (no numpy, no torch)
so that ``rrgbench list`` stays fast; implementations import what they need inside their modules.

Data flow of one run (see :mod:`rrgbench.runner`)::

    Dataset.prepare() -> Dataset.split("train"/"val"/"test") -> list[Sample]
    Method.prepare(data) -> Method.train(stage, data) for stage in Method.stages -> Method.save(dir)
    Method.generate(samples, data) -> reports           (generations.jsonl)
    Metric.sample_stats(hyps, refs) -> Metric.aggregate(stats)   (scores/<metric>.json)
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import RRGBenchError, UnavailableError  # noqa: F401 - re-exported: plugins import them from here

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

SPLITS = ("train", "val", "test")

# CheXbert / CheXpert observation order (notes §1.2). Labelers emit these keys.
CHEXPERT_LABELS: tuple[str, ...] = (
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
    "No Finding",
)
CHEXPERT_5: tuple[str, ...] = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Sample:
    """One study: the unit that is generated and scored.

    ``report`` is the reference text of the selected section, uncleaned; cleaning is a named protocol
    (:mod:`rrgbench.text`) applied by methods and metrics. ``image_paths`` are absolute paths.
    ``meta`` holds dataset extras (e.g. ``mesh`` tags, ``view``, ``labels``); it must never be read by
    a method at generate time for anything that encodes the answer.
    """

    id: str
    report: str
    image_paths: tuple[str, ...]
    split: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class Dataset(ABC):
    """A source of :class:`Sample` splits and their images.

    Subclasses set the class attributes and implement :meth:`prepare` and :meth:`split`.
    """

    name: ClassVar[str] = ""  # set by the registry from the registered name
    description: ClassVar[str] = ""
    licence: ClassVar[str] = "unknown"
    credentialed: ClassVar[bool] = False  # True: per-sample text and images must never be published
    cleaning: ClassVar[str] = "r2gen_iu"  # default cleaning protocol name for this dataset
    sections: ClassVar[tuple[str, ...]] = ("findings",)
    fingerprint_mode: str = "full"  # how manifest_hash covers images ("full"; a layout dataset also has "fast")
    contract_options: ClassVar[dict[str, Any]] = {}  # the smallest options for the contract checks (rrgbench.testing)

    def __init__(self, data_dir: Path | None = None, section: str = "findings", skip_bad: bool = False,
                 **options: Any) -> None:
        self.data_dir = Path(data_dir) if data_dir else None
        self.section = section
        self.skip_bad = skip_bad
        self.options = options
        self.skipped: list[str] = []  # "<id or file>: <reason>" for samples dropped by --skip-bad

    @abstractmethod
    def prepare(self) -> None:
        """Make the data ready on disk (idempotent; cheap when already prepared)."""

    @abstractmethod
    def split(self, name: str) -> list[Sample]:
        """Return the samples of split ``name`` (one of :data:`SPLITS`) in a stable order."""

    @abstractmethod
    def manifest_hash(self) -> str:
        """sha256 over the annotation and every image file: goes into each run record."""

    @classmethod
    def published_test_ids(cls) -> list[str] | None:
        """The study ids of the test set papers report on for this dataset, when known (e.g. the R2Gen IU
        X-ray split); the leaderboard puts paper numbers beside a run only when it was evaluated on them."""
        return None

    def load_images(self, sample: Sample, size: int) -> np.ndarray:
        """All views of ``sample`` as float32 ``[views, size, size]`` in [0, 1]. Subclasses cache this."""
        raise NotImplementedError

    # -- optional (defaults) ---------------------------------------------------------------------
    def root(self) -> Path:
        """Where the prepared data lives: ``data_dir`` when given, else ``$RRGBENCH_DATA/<name>``."""
        if self.data_dir is not None:
            return self.data_dir
        from .paths import data_root

        return data_root(self.name)

    def manifest(self) -> dict[str, Any]:
        """What :meth:`manifest_hash` covers; at least ``sha256`` and ``n_images`` (default: counted from the
        splits, so call after :meth:`prepare`)."""
        return {"sha256": self.manifest_hash(),
                "n_images": sum(len(s.image_paths) for name in SPLITS for s in self.split(name))}


# ------------------------------------------------------------------------------------------ methods


@dataclass
class RunContext:
    """What the harness gives a method: where to write, which seed and device, and a fidelity log."""

    run_dir: Path
    seed: int = 0
    device: str = "cpu"
    preset: str = "tiny"
    dataset_name: str = ""
    rank: int = 0
    world_size: int = 1
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("rrgbench.method"))
    substitutes: dict[str, str] = field(default_factory=dict)
    # Set by the runner (optional for methods; see rrgbench.train_state and rrgbench.distributed):
    stage: str = ""  # the method training stage being run
    resume_dir: Path | None = None  # where mid-stage training state of ``stage`` lives
    accelerator: Any = None  # an accelerate.Accelerator when launched with several processes

    def save_train_state(self, states: dict[str, Any], *, step: int, epoch: int = 0,
                         extra: dict[str, Any] | None = None) -> None:
        """Save mid-stage training state (state dicts + step + RNG) so a killed stage resumes here."""
        if self.resume_dir is None or self.rank != 0:
            return
        from .train_state import save

        save(self.resume_dir, states, step=step, epoch=epoch, extra=extra)

    def load_train_state(self, map_location: str = "cpu", restore_rng: bool = True) -> dict[str, Any] | None:
        """The last :meth:`save_train_state` of this stage (RNG states restored unless told not to), or ``None``."""
        if self.resume_dir is None:
            return None
        from .train_state import load

        return load(self.resume_dir, map_location=map_location, restore_rng=restore_rng)

    @property
    def work_dir(self) -> Path:
        """Scratch space for prepared artefacts (tokenizers, banks, indices) of this run."""
        path = self.run_dir / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def substitute(self, asset: str, reason: str) -> None:
        """Record that a pretrained ``asset`` was replaced; shown as a fidelity tag on leaderboards."""
        self.substitutes[asset] = reason
        self.logger.info("substitute: %s -> %s", asset, reason)

    def progress(self, iterable: Any = None, **kwargs: Any) -> Any:
        """A tqdm-style progress bar (``total``, ``desc``, ``unit``, ``leave``; ``set_postfix``, ``update``)
        with total, elapsed and ETA, drawn by :mod:`rrgbench.terminal` on rank 0 only."""
        from .terminal import progress

        return progress(iterable, disable=self.rank != 0 or kwargs.pop("disable", False), **kwargs)


class Method(ABC):
    """A report-generation method. One instance lives for one run.

    ``config`` is the full, frozen configuration (preset defaults merged with user overrides); it is part
    of the run spec hash, so everything that changes results must be in it.
    """

    name: ClassVar[str] = ""  # set by the registry from the registered name
    description: ClassVar[str] = ""
    version: ClassVar[str] = "0.1"
    stages: ClassVar[tuple[str, ...]] = ("train",)
    presets: ClassVar[tuple[str, ...]] = ("tiny", "paper")
    # Numbers the method's paper reports, per dataset, shown beside reproduced ones under the same protocol
    # (format in rrgbench.leaderboard.reported; a reported.json beside the method's module wins):
    reported: ClassVar[dict[str, Any]] = {}
    # True when train() itself uses ctx.accelerator across processes; False: rank 0 trains alone, the others wait
    distributed_training: ClassVar[bool] = False
    #: config keys ``--set`` accepts although ``default_config`` does not list them (read with ``config.get``);
    #: every other override must name a default key with a value of the default's type
    optional_config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict[str, Any], ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        """The configuration of ``preset`` for ``dataset`` (JSON-serialisable)."""
        return {}

    def prepare(self, data: Dataset) -> None:  # noqa: B027 - optional hook
        """Build tokenizers, priors, banks and indices from the training split."""

    @abstractmethod
    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        """Run training stage ``stage``; return a small dict of training facts (losses, steps)."""

    @abstractmethod
    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        """Generate one report per sample, in order. Must not read ``sample.report`` or label metadata."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write everything needed to generate again into directory ``path``."""

    @abstractmethod
    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote."""

    def generate_batch_size(self) -> int:
        """How many samples the runner hands to :meth:`generate` at a time (resume granularity)."""
        return int(self.config.get("generate_batch_size", 16))

    @classmethod
    def contract_config(cls, dataset: str) -> dict[str, Any]:
        """The smallest configuration that runs every stage, for the contract checks (:mod:`rrgbench.testing`,
        ``rrgbench check-plugin``) on a dozen tiny images. Default: the first preset's configuration."""
        return cls.default_config(cls.presets[0], dataset)

    @classmethod
    def asset_report(cls, config: dict[str, Any], preset: str) -> list[dict[str, Any]]:
        """The pretrained assets this configuration uses: one row per asset with ``name`` and either ``path`` +
        ``sha256`` or ``missing`` / ``substitute`` / ``put_at`` (``run --dry-run`` lists them). Default: none."""
        return []


# ------------------------------------------------------------------------------------------ metrics


@dataclass
class Display:
    """How a metric's numbers are shown, as the metric plugin declares it (``display`` in a score file).

    ``group``: column group (e.g. ``NLG``, ``CE``); ``higher_is_better``: direction per score key (keys not
    listed take ``default_higher_is_better``); ``labels``: display name per key; ``headline``: keys shown by
    default (the rest sit behind "show all"); ``per_label``: key -> the label (e.g. a CheXpert observation)
    that a per-label key is about; ``order``: preferred key order.
    """

    group: str = "Other"
    default_higher_is_better: bool = True
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)
    per_label: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    primary: str = ""
    rank_priority: int = 0  # how strongly ``primary`` should lead a board's ranking (highest wins)

    def direction(self, key: str) -> bool:
        """True when a larger ``key`` is better."""
        return bool(self.higher_is_better.get(key, self.default_higher_is_better))

    def label(self, key: str) -> str:
        return self.labels.get(key) or key

    def is_headline(self, key: str) -> bool:
        return key in self.headline

    def label_of(self, key: str) -> str | None:
        """The label a per-label key is about, else ``None``."""
        return self.per_label.get(key)

    def key_rank(self, key: str) -> tuple[int, int, str]:
        """Sort key: the metric's own order first, then per-label keys, then the rest by name."""
        if key in self.order:
            return (0, self.order.index(key), key)
        return (1 + (key in self.per_label), 0, key)

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "default_higher_is_better": self.default_higher_is_better,
                "higher_is_better": dict(self.higher_is_better), "labels": dict(self.labels),
                "headline": list(self.headline), "per_label": dict(self.per_label), "order": list(self.order),
                "primary": self.primary, "rank_priority": self.rank_priority}

    @classmethod
    def from_json(cls, raw: Any, path: Path | str = "display") -> Display:
        """Parse a ``display`` block; a malformed one raises naming ``path``."""
        if not isinstance(raw, dict):
            raise RRGBenchError(f"{path}: 'display' must be an object")
        try:
            return cls(group=str(raw.get("group") or "Other"),
                       default_higher_is_better=bool(raw.get("default_higher_is_better", True)),
                       higher_is_better={str(k): bool(v) for k, v in (raw.get("higher_is_better") or {}).items()},
                       labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                       headline=[str(k) for k in raw.get("headline") or []],
                       per_label={str(k): str(v) for k, v in (raw.get("per_label") or {}).items()},
                       order=[str(k) for k in raw.get("order") or []], primary=str(raw.get("primary") or ""),
                       rank_priority=int(raw.get("rank_priority") or 0))
        except (AttributeError, TypeError) as exc:
            raise RRGBenchError(f"{path}: malformed 'display' block ({exc})") from None




class Metric(ABC):
    """A metric, split into per-sample sufficient statistics and a corpus aggregate.

    ``sample_stats`` does the expensive work once per (hypothesis, reference) pair and returns JSON-able
    dicts; ``aggregate`` turns any list of them (e.g. a bootstrap resample) into scores cheaply. For a
    plain mean metric, ``aggregate`` averages per-sample values; for BLEU / CIDEr / micro-F1 it sums counts.
    """

    name: ClassVar[str] = ""  # set by the registry from the registered name
    description: ClassVar[str] = ""
    version: ClassVar[str] = "0.1"
    # How the numbers are shown (written into every score file as ``display``; see :meth:`describe`):
    higher_is_better: ClassVar[bool] = True  # direction of every score key (override per key in describe)
    group: ClassVar[str] = "Other"  # leaderboard column group, e.g. NLG, CE, RadGraph, UMLS, BERTScore
    labels: ClassVar[dict[str, str]] = {}  # score key -> display name (keys not listed show as themselves)
    headline: ClassVar[tuple[str, ...] | None] = None  # keys shown by default; None: every key not per-label
    primary: ClassVar[str] = ""  # the key to rank by when this metric leads a leaderboard ("": first headline)
    # (score key, per-sample key) pairs that ``rrgbench sensitivity`` reports; (): the primary key, else the first
    # headline key, else the first score key, judged per sample by the per-sample value of the same name
    sensitivity_keys: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Which metric's primary key ranks a board (the highest wins; ties: the most-filled column). Clinical
    # metrics rank above n-gram overlap: the index never ranks by an n-gram metric when one is present.
    rank_priority: ClassVar[int] = 0
    default_suite: ClassVar[bool] = False  # scored by ``run``, ``score`` and ``sweep`` when no --metrics given
    # How exactly re-scoring the same texts reproduces the numbers (the audit applies it):
    # "exact" (bit-identical) or "float" (every score, CI bound and per-sample value within
    # ``float_tolerance``, a bound the metric's tests show it meets).
    reproducibility: ClassVar[str] = "exact"
    float_tolerance: ClassVar[float] = 0.0
    # True when a pair's statistics depend on that pair only: the engine then reuses cached pairs and scores
    # new ones in chunks; False: sample_stats always sees the whole corpus
    pairwise: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        self.options = options

    @classmethod
    def describe(cls, scores: Mapping[str, Any]) -> Display:
        """The display facts of a result with these score keys (stored with the scores; read by the
        leaderboard, ``compare`` and the sample viewer). The default uses the class attributes above and
        :meth:`per_label`; override for per-key directions or computed names."""
        keys = [str(k) for k in scores]
        per_label = {k: lab for k in keys if (lab := cls.per_label(k)) is not None}
        headline = [k for k in keys if k not in per_label] if cls.headline is None else \
            [k for k in keys if k in cls.headline]
        return Display(group=cls.group, default_higher_is_better=bool(cls.higher_is_better),
                       labels={k: cls.labels[k] for k in keys if k in cls.labels}, headline=headline,
                       per_label=per_label, order=keys, primary=cls.primary if cls.primary in keys else "",
                       rank_priority=int(cls.rank_priority))

    @classmethod
    def per_label(cls, key: str) -> str | None:
        """The label (e.g. a CheXpert observation) that score ``key`` is about, or ``None`` (default)."""
        return None

    def availability(self) -> str | None:
        """``None`` when the metric can run here, else the reason it cannot (names the missing file)."""
        return None

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load models and heavy imports. The engine calls it before :meth:`sample_stats`, one metric at a time
        in the calling thread (imports are not thread-safe); sample_stats then runs in a worker thread."""

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Corpus scores for each row of ``weights`` (``[B, n]`` sample counts, e.g. bootstrap resamples):
        ``{key: [B] array}``. The default calls :meth:`aggregate` once per row; a metric whose aggregate is a
        weighted sum overrides it with a vectorised version (same numbers)."""
        import numpy as np

        out: dict[str, list[float]] = {}
        for row in np.asarray(weights):
            counts = np.rint(row).astype(int)
            for k, v in self.aggregate([stats[i] for i in np.repeat(np.arange(len(stats)), counts)]).items():
                out.setdefault(k, []).append(v)
        return {k: np.asarray(v, float) for k, v in out.items()}

    def batch_aggregator(self, stats: Sequence[dict[str, Any]]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """``weights -> batch_aggregate(stats, weights)`` for many weight blocks of the same ``stats`` (the
        bootstrap draws its resamples in blocks). A metric whose re-aggregation needs arrays or matrices built
        from the statistics (n-gram tables, vocabularies) overrides it to build them once; the default
        prepares nothing."""
        return lambda weights: self.batch_aggregate(stats, weights)

    def label_caches(self) -> list[str]:
        """Signatures of the persisted label caches this metric reads with its options
        (``<cache_root>/labels/<signature>.jsonl``, :func:`rrgbench.clinical.cache.shared_cache`);
        ``rrgbench cache clean`` keeps those files. The default reads none."""
        return []

    @abstractmethod
    def signature(self) -> str:
        """sacrebleu-style ``key:value|...`` string naming everything that determines the numbers."""

    @abstractmethod
    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        """Per-pair sufficient statistics, one JSON-able dict per pair, in order."""

    @abstractmethod
    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        """Corpus scores from a list of per-sample statistics. Keys are score names (``bleu_4``...)."""

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
        """Per-sample display scores (default: the aggregate of each sample alone)."""
        return [self.aggregate([s]) for s in stats]

    @classmethod
    def reproducibility_tolerance(cls) -> float:
        """The largest re-scoring deviation this metric declares acceptable (0 for ``exact``)."""
        if cls.reproducibility == "exact":
            return 0.0
        if cls.reproducibility == "float" and cls.float_tolerance > 0:
            return float(cls.float_tolerance)
        raise RRGBenchError(f"metric '{getattr(cls, 'name', cls.__name__)}': reproducibility must be 'exact' or "
                            f"'float' with float_tolerance > 0, not {cls.reproducibility!r}/{cls.float_tolerance!r}")


# ----------------------------------------------------------------------------------------- labelers


class Labeler(ABC):
    """A report labeler: CheXpert-style states per report, used by CE metrics and by methods' label targets.

    Registered with ``rrgbench_register_labelers``; the CE metrics take one by name (``labeler`` option).
    ``label`` returns, per text, ``{label: 1 | 0 | -1 | None}`` over :data:`CHEXPERT_LABELS` (positive,
    negative, uncertain, not mentioned). Results are cached per text hash under the labeler's signature
    (persisted across processes when ``persist_cache``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    persist_cache: ClassVar[bool] = False  # True for slow (model) labelers: labels kept under the cache root

    def availability(self) -> str | None:
        """``None`` when the labeler can run here, else the reason it cannot (names the missing file)."""
        return None

    @abstractmethod
    def signature(self) -> str:
        """Names everything that determines the labels (version, rules' source hash, weights' identity)."""

    @abstractmethod
    def label(self, texts: Sequence[str]) -> list[dict[str, int | None]]:
        """One label dict per text, in order."""

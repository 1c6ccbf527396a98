"""RadGraph F1 (Jain et al. 2021; Delbrouck et al. 2022) through the ``radgraph`` package, weights from disk.

Per report pair, with the RadGraph annotations of hypothesis and reference (entities with ``tokens``,
``label`` and ``relations``), three reward levels as in ``radgraph.rewards``:

``simple``    (RG_E)      F1 over the sets of ``(tokens, label)`` of all entities
``partial``   (RG_ER)     F1 over ``(tokens, label, has_relation)`` — the number most papers report
``complete``  (RG_ER_bar) F1 over ``(tokens, label)`` of entities without relations plus
                          ``(tokens, label, relation, target tokens)`` for every relation

F1 = 2PR / (P + R) with P, R over the two sets (0 when a set is empty). A pair where either text is
empty or either annotation has no entity scores 0 on all levels (upstream behaviour). The corpus score is
the mean over pairs. ``lowercase=True`` (default) compares tokens case-insensitively everywhere, the
behaviour upstream intends (fix merged in Stanford-AIMI/radgraph PR #15, not in PyPI 0.1.18, which
lowercases only relation tuples); ``lowercase=False`` calls 0.1.18's ``compute_reward`` unchanged.

Weights (nothing is downloaded): the extracted ``<model_type>.tar.gz`` of HF ``StanfordAIMI/RRG_scorers``, i.e.
a directory with ``config.json``, ``vocabulary/`` and ``weights.th``, found as option ``model_dir``, else
``$RRGBENCH_RADGRAPH_DIR/<model_type>``, else ``$RRGBENCH_MODELS/radgraph/<model_type>``, else radgraph's own
cache ``~/.cache/radgraph/<version>/<model_type>`` when it is there (:func:`default_model_dir`).
The BERT encoder named in its ``config.json`` must be local too: option ``encoder_dir``, else
``$RRGBENCH_RADGRAPH_ENCODER_DIR/<model_type>``, else ``$RRGBENCH_MODELS/radgraph-encoder/<model_type>``
(config + tokenizer files; its weights are not used, all come from ``weights.th``), else a directory path
in the config or the Hugging Face cache.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rrgbench.api import RRGBenchError, UnavailableError
from rrgbench.clinical.cache import file_id

LEVELS = ("simple", "partial", "complete")
MODEL_TYPES = ("radgraph", "radgraph-xl", "modern-radgraph-xl")
_REQUIRED = ("config.json", "vocabulary", "weights.th")


def _f1(hyp: set[Any], ref: set[Any]) -> float:
    p = sum(1 for x in hyp if x in ref) / len(hyp) if hyp else 0.0
    r = sum(1 for x in ref if x in hyp) / len(ref) if ref else 0.0
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _sets(ann: dict[str, Any], lowercase: bool) -> tuple[set[Any], set[Any], set[Any]]:
    ents = ann["entities"]
    norm = (lambda s: s.lower()) if lowercase else (lambda s: s)  # noqa: E731
    simple, partial, complete = set(), set(), set()
    for ent in ents.values():
        tok, label = norm(ent["tokens"]), ent["label"]
        simple.add((tok, label))
        partial.add((tok, label, True) if ent["relations"] else (tok, label))
        if ent["relations"]:
            complete.update((tok, label, rel, norm(ents[target]["tokens"])) for rel, target in ent["relations"])
        else:
            complete.add((tok, label))
    return simple, partial, complete


def rewards(hyp_ann: dict[str, Any] | None, ref_ann: dict[str, Any] | None, lowercase: bool = True
            ) -> tuple[float, float, float]:
    """(simple, partial, complete) RadGraph rewards of one pair of annotations (None = empty text)."""
    if not hyp_ann or not ref_ann or not hyp_ann.get("entities") or not ref_ann.get("entities"):
        return (0.0, 0.0, 0.0)
    if not lowercase:
        return tuple(float(x) for x in upstream_compute_reward()(hyp_ann, ref_ann, "all"))  # type: ignore[return-value]
    h, r = _sets(hyp_ann, True), _sets(ref_ann, True)
    return (_f1(h[0], r[0]), _f1(h[1], r[1]), _f1(h[2], r[2]))


def upstream_compute_reward() -> Any:
    """``radgraph.rewards.compute_reward`` loaded from its file (importing ``radgraph`` pulls in torch + AllenNLP)."""
    import importlib.util

    spec = importlib.util.find_spec("radgraph")
    if spec is None or not spec.submodule_search_locations:
        raise UnavailableError("the radgraph package is not installed (pip install 'rrgbench[clinical]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "rewards.py"
    mod_spec = importlib.util.spec_from_file_location("rrgbench_radgraph_rewards", path)
    module = importlib.util.module_from_spec(mod_spec)  # type: ignore[arg-type]
    mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.compute_reward


REQUIRED_FILES = ("config.json", "vocabulary", "weights.th")


def _radgraph_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("radgraph")
    except Exception:  # noqa: BLE001 - package missing: report the usual location anyway
        return "0.1.18"


def default_model_dir(model_type: str) -> Path:
    """``$RRGBENCH_RADGRAPH_DIR/<type>``, else ``$RRGBENCH_MODELS/radgraph/<type>``, else radgraph's own
    ``~/.cache/radgraph/<version>/<type>`` when complete there; missing: the ``$RRGBENCH_MODELS`` path."""
    from rrgbench.paths import models_root
    from rrgbench.weights import first_found, xdg_cache

    if env := os.environ.get("RRGBENCH_RADGRAPH_DIR"):
        return Path(env).expanduser() / model_type
    return first_found(models_root() / "radgraph" / model_type,
                       xdg_cache("radgraph", _radgraph_version(), model_type), REQUIRED_FILES)


def default_encoder_dir(model_type: str) -> Path | None:
    """``$RRGBENCH_RADGRAPH_ENCODER_DIR/<type>``, else ``$RRGBENCH_MODELS/radgraph-encoder/<type>`` when it
    holds a config.json; None: the encoder named in the model's config (Hugging Face cache)."""
    from rrgbench.paths import models_root

    if env := os.environ.get("RRGBENCH_RADGRAPH_ENCODER_DIR"):
        return Path(env).expanduser() / model_type
    home = models_root() / "radgraph-encoder" / model_type
    return home if (home / "config.json").is_file() else None


def model_assets() -> list[tuple[Any, Path | None]]:
    """Both RadGraph models and their encoders as :class:`rrgbench.weights.Asset` rows with the paths used here."""
    from rrgbench.paths import models_root
    from rrgbench.weights import Asset

    rows: list[tuple[Any, Path | None]] = []
    for model_type in MODEL_TYPES:
        rows.append((Asset(f"radgraph/{model_type}", f"{model_type} entity/relation model",
                           f"Hugging Face StanfordAIMI/RRG_scorers, {model_type}.tar.gz (extracted)",
                           "config.json, vocabulary/, weights.th", f"radgraph metric (model_type={model_type})",
                           f"RRGBENCH_RADGRAPH_DIR (holds {model_type}/)", REQUIRED_FILES),
                     default_model_dir(model_type)))
        rows.append((Asset(f"radgraph-encoder/{model_type}", f"the BERT encoder {model_type}'s config.json names",
                           "that Hugging Face model (config + tokenizer files)", "config.json + tokenizer files",
                           "radgraph metric, when that encoder is not in the Hugging Face cache",
                           f"RRGBENCH_RADGRAPH_ENCODER_DIR (holds {model_type}/)", ("config.json",)),
                     default_encoder_dir(model_type) or models_root() / "radgraph-encoder" / model_type))
    return rows


def _encoder_name(config: dict[str, Any]) -> str:
    try:
        return config["dataset_reader"]["token_indexers"]["bert"]["model_name"]
    except (KeyError, TypeError):
        raise RRGBenchError("RadGraph config.json has no dataset_reader.token_indexers.bert.model_name") from None


def _encoder_is_local(name: str) -> bool:
    if Path(name).is_dir():
        return True
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(name, local_files_only=True)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available offline"
        return False


class RadGraphAnnotator:
    """Annotates reports with a local RadGraph model (loaded on first use)."""

    persist_cache = True

    def __init__(self, model_type: str = "radgraph-xl", model_dir: str | Path | None = None,
                 encoder_dir: str | Path | None = None, device: str | None = None) -> None:
        if model_type not in MODEL_TYPES:
            raise RRGBenchError(f"unknown RadGraph model_type '{model_type}'; choose one of: {', '.join(MODEL_TYPES)}")
        self.model_type = model_type
        self.model_dir = Path(model_dir).expanduser() if model_dir else default_model_dir(model_type)
        if encoder_dir is None:  # $RRGBENCH_RADGRAPH_ENCODER_DIR/<type> or $RRGBENCH_MODELS/radgraph-encoder/<type>
            encoder_dir = default_encoder_dir(model_type)
        self.encoder_dir = Path(encoder_dir).expanduser() if encoder_dir else None
        self.device = device
        self._model: Any = None
        self._staging: tempfile.TemporaryDirectory[str] | None = None

    def availability(self) -> str | None:
        missing = [f for f in _REQUIRED if not (self.model_dir / f).exists()]
        if missing:
            return (f"RadGraph weights not found: {', '.join(str(self.model_dir / f) for f in missing)} missing. "
                    f"Download {self.model_type}.tar.gz (Hugging Face StanfordAIMI/RRG_scorers) and extract it into "
                    f"{self.model_dir}, or set RRGBENCH_RADGRAPH_DIR (holding {self.model_type}/) or model_dir=...")
        import importlib.util

        if importlib.util.find_spec("radgraph") is None:
            return "the radgraph package is not installed (pip install 'rrgbench[clinical]')"
        if self.encoder_dir is not None:
            if not (self.encoder_dir / "config.json").is_file():
                return f"encoder_dir {self.encoder_dir} has no config.json (the RadGraph BERT encoder's files go there)"
            return None
        name = _encoder_name(json.loads((self.model_dir / "config.json").read_text()))
        if not _encoder_is_local(name):
            return (f"RadGraph's encoder '{name}' (named in {self.model_dir / 'config.json'}) is not available "
                    f"offline: put a local copy of {name} (config.json + tokenizer files) in "
                    f"$RRGBENCH_MODELS/radgraph-encoder/{self.model_type}, or set RRGBENCH_RADGRAPH_ENCODER_DIR "
                    f"(holding {self.model_type}/) or the metric option encoder_dir=...")
        return None

    def identity(self) -> str:
        weights = self.model_dir / "weights.th"
        if not weights.is_file():
            return "missing"
        return file_id(weights)

    def _stage(self) -> Path:
        """A model cache dir for ``radgraph.RadGraph``; with ``encoder_dir`` its config points there."""
        if self.encoder_dir is None:
            return self.model_dir.parent if self.model_dir.name == self.model_type else self._link_only()
        self._staging = tempfile.TemporaryDirectory(prefix="rrgbench-radgraph-")
        target = Path(self._staging.name) / self.model_type
        target.mkdir()
        config = json.loads((self.model_dir / "config.json").read_text())
        config["dataset_reader"]["token_indexers"]["bert"]["model_name"] = str(self.encoder_dir)
        config["model"]["embedder"]["token_embedders"]["bert"]["model_name"] = str(self.encoder_dir)
        (target / "config.json").write_text(json.dumps(config))
        for name in ("vocabulary", "weights.th"):
            (target / name).symlink_to((self.model_dir / name).resolve())
        return Path(self._staging.name)

    def _link_only(self) -> Path:
        self._staging = tempfile.TemporaryDirectory(prefix="rrgbench-radgraph-")
        (Path(self._staging.name) / self.model_type).symlink_to(self.model_dir.resolve())
        return Path(self._staging.name)

    def _load(self) -> None:
        reason = self.availability()
        if reason:
            raise UnavailableError(reason)
        import torch
        from radgraph import RadGraph

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        cuda = -1 if device == "cpu" else (int(device.split(":")[1]) if ":" in device else 0)
        saved = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self._model = RadGraph(model_type=self.model_type, model_cache_dir=str(self._stage()), cuda=cuda)
        except Exception as exc:  # noqa: BLE001 - one clear line naming the directory
            raise RRGBenchError(f"cannot load RadGraph from {self.model_dir}: {type(exc).__name__}: {exc}") from exc
        finally:
            if saved is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = saved

    def annotate(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """RadGraph annotation (``{"text", "entities": {...}}``) of each non-empty text."""
        if self._model is None:
            self._load()
        import torch

        with torch.inference_mode(), contextlib.redirect_stdout(io.StringIO()):
            out = self._model(list(texts))
        return [out.get(str(i), {"text": t, "entities": {}}) for i, t in enumerate(texts)]

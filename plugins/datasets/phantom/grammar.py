"""A small report grammar for the licence-free ``synthetic`` dataset.

:func:`synthetic_study` draws a study's findings (as Open-i style MeSH tags, which the phantom renderer
draws) and writes findings and impression text that state them, with left/right, zone and severity,
in several phrasings. About a third of studies are normal. Deterministic in the generator state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticStudy", "synthetic_study"]

_SEV = {1: "small", 2: "moderate", 3: "large"}
_ADV = {1: "mildly", 2: "moderately", 3: "severely"}
_ZONE_TAG = {"upper": "upper lobe", "middle": "middle lobe", "lower": "base"}
_ZONE_TEXT = {("upper", "right"): "right upper lobe", ("upper", "left"): "left upper lobe",
              ("middle", "right"): "right middle lobe", ("middle", "left"): "lingula",
              ("lower", "right"): "right lung base", ("lower", "left"): "left lung base"}

_NORMAL = {
    "heart": ["the heart is normal in size.", "heart size is normal.", "the cardiac silhouette is within normal limits.",
              "the heart and mediastinum are normal."],
    "lungs": ["the lungs are clear.", "no focal airspace consolidation.", "the lungs are clear bilaterally.",
              "there is no focal consolidation."],
    "pleura": ["no pleural effusion or pneumothorax.", "there is no pneumothorax or pleural effusion.",
               "no pneumothorax or pleural effusion is seen."],
    "bones": ["no acute bony abnormality.", "the osseous structures are intact.", "the visualized bones are unremarkable."],
}


@dataclass(frozen=True)
class SyntheticStudy:
    """One generated study: MeSH-style tags (what the renderer draws) and its report sections."""

    mesh: tuple[str, ...]
    findings: str
    impression: str


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _side(rng: np.random.Generator, bilateral: float = 0.0) -> str:
    r = rng.random()
    return "bilateral" if r < bilateral else "right" if r < bilateral + (1 - bilateral) / 2 else "left"


def synthetic_study(rng: np.random.Generator) -> SyntheticStudy:
    """Draw one study. Findings sentences are ordered heart, lungs, pleura, bones, devices."""
    said: dict[str, list[str]] = {"heart": [], "lungs": [], "pleura": [], "bones": [], "devices": []}
    tags: list[str] = []
    impression: list[str] = []
    n = 0 if rng.random() < 0.33 else int(rng.choice([1, 1, 1, 2, 2, 3]))
    kinds = list(rng.choice(["cardiomegaly", "effusion", "pneumothorax", "opacity", "nodule", "granuloma",
                             "atelectasis", "scoliosis", "device", "emphysema", "edema"],
                            size=n, replace=False, p=[.14, .13, .06, .13, .09, .1, .1, .06, .09, .05, .05]))
    for kind in kinds:
        sev = int(rng.integers(1, 4))
        if kind == "cardiomegaly":
            tags.append(f"Cardiomegaly/{['mild', 'moderate', 'severe'][sev - 1]}")
            said["heart"].append(_pick(rng, [f"the heart is {_ADV[sev]} enlarged.", f"{_ADV[sev].replace('ly', '')} cardiomegaly.",
                                             f"there is {_ADV[sev].replace('ly', '')} cardiomegaly."]))
            impression.append("cardiomegaly")
        elif kind == "effusion":
            side = _side(rng, 0.3)
            tags.append(f"Pleural Effusion/{side}/{_SEV[sev]}")
            where = "bilateral pleural effusions" if side == "bilateral" else f"{side} pleural effusion"
            said["pleura"].append(_pick(rng, [f"there is a {_SEV[sev]} {where}.", f"{_SEV[sev]} {where}.",
                                              f"{_SEV[sev]} {where} with blunting of the costophrenic angle."]))
            impression.append(where)
        elif kind == "pneumothorax":
            side = _side(rng)
            tags.append(f"Pneumothorax/{side}/{_SEV[sev]}")
            said["pleura"].append(_pick(rng, [f"there is a {_SEV[sev]} {side} pneumothorax.", f"{_SEV[sev]} {side} pneumothorax.",
                                              f"a {side} pleural line is seen consistent with {_SEV[sev]} pneumothorax."]))
            impression.append(f"{side} pneumothorax")
        elif kind in ("opacity", "nodule", "granuloma", "atelectasis"):
            side = _side(rng)
            zone = str(rng.choice(["lower", "lower", "middle", "upper"])) if kind != "granuloma" else str(
                rng.choice(["upper", "middle", "lower"]))
            if kind == "atelectasis":
                zone = "lower"
            place = _ZONE_TEXT[(zone, side)]
            if kind == "opacity":
                word = str(rng.choice(["airspace opacity", "consolidation", "patchy opacity"]))
                head = "Consolidation" if word == "consolidation" else "Opacity"
                tags.append(f"{head}/lung/{_ZONE_TAG[zone]}/{side}")
                said["lungs"].append(_pick(rng, [f"there is {word} in the {place}.", f"{word} in the {place}.",
                                                 f"focal {word} is present in the {place}."]))
                impression.append(f"{place} {word}, possibly pneumonia")
            elif kind == "nodule":
                size = ("small", "small", "1 cm", "large")[sev]
                tags.append(f"Nodule/lung/{_ZONE_TAG[zone]}/{side}" + {1: "/small", 2: "", 3: "/large"}[sev])
                said["lungs"].append(_pick(rng, [f"there is a {size} nodule in the {place}.", f"{size} nodule in the {place}."]))
                impression.append(f"{place} nodule")
            elif kind == "granuloma":
                tags.append(f"Calcified Granuloma/lung/{_ZONE_TAG[zone]}/{side}")
                said["lungs"].append(_pick(rng, [f"calcified granuloma in the {place}.",
                                                 f"there is a calcified granuloma in the {place}."]))
            else:
                tags.append(f"Pulmonary Atelectasis/base/{side}")
                said["lungs"].append(_pick(rng, [f"linear atelectasis at the {side} base.",
                                                 f"there is {side} basilar atelectasis."]))
                impression.append(f"{side} basilar atelectasis")
        elif kind == "scoliosis":
            tags.append(f"Scoliosis/{['mild', 'moderate', 'severe'][sev - 1]}")
            said["bones"].append(_pick(rng, [f"{['mild', 'moderate', 'severe'][sev - 1]} scoliosis of the thoracic spine.",
                                             f"there is {['mild', 'moderate', 'severe'][sev - 1]} thoracic scoliosis."]))
        elif kind == "device":
            dev = str(rng.choice(["catheter", "pacemaker", "sternotomy", "clips"]))
            if dev == "catheter":
                side = _side(rng)
                tags.append(f"Catheters, Indwelling/{side}")
                said["devices"].append(f"{side} central venous catheter with tip in the svc.")
            elif dev == "pacemaker":
                side = "left" if rng.random() < 0.8 else "right"
                tags.append(f"Implanted Medical Device/{side}")
                said["devices"].append(f"{side} chest wall pacemaker with lead in the right ventricle.")
            elif dev == "sternotomy":
                tags.append("Surgical Instruments/mediastinum")
                said["devices"].append("median sternotomy wires and mediastinal clips are present.")
            else:
                tags.append("Surgical Instruments")
                said["devices"].append("surgical clips project over the chest.")
        elif kind == "emphysema":
            tags.append("Emphysema")
            said["lungs"].append(_pick(rng, ["the lungs are hyperexpanded consistent with emphysema.",
                                             "hyperinflated lungs with flattened diaphragms consistent with copd."]))
            impression.append("emphysema")
        elif kind == "edema":
            tags.append("Pulmonary Edema")
            said["lungs"].append(_pick(rng, ["there is perihilar interstitial edema.",
                                             "bilateral perihilar opacities consistent with pulmonary edema."]))
            impression.append("pulmonary edema")
    sentences: list[str] = []
    for topic in ("heart", "lungs", "pleura", "bones"):
        sentences += said[topic] or ([_pick(rng, _NORMAL[topic])] if topic != "bones" or rng.random() < 0.6 else [])
    sentences += said["devices"]
    findings = " ".join(s[0].upper() + s[1:] for s in sentences)
    if not tags:
        tags = ["normal"]
        imp = _pick(rng, ["no acute cardiopulmonary abnormality.", "normal chest.", "no acute cardiopulmonary disease."])
    else:
        imp = "; ".join(impression) + "." if impression else "no acute cardiopulmonary abnormality."
    return SyntheticStudy(tuple(tags), findings, imp[0].upper() + imp[1:])

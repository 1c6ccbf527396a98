"""Open-i MeSH tags -> structured findings: the vocabulary the phantom renderer draws.

An Open-i ``<major>`` MeSH tag is a heading followed by ``/``-separated modifiers, e.g.
``Pleural Effusion/left/small`` or ``Opacity/lung/base/right/patchy``. :func:`parse_mesh` maps each tag
to a :class:`Finding` (kind, side, zone, severity, modifiers). Tags the renderer does not draw (e.g.
``Epicardial Fat``) map to nothing; ``normal`` and ``No Indexing`` are empty studies.

The mapping is a fixed table written for the phantoms: it is *not* a labeler, and the renderer never
sees report text, so a report labeler can later be measured against the MeSH tags honestly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Finding", "KINDS", "parse_mesh", "parse_tag"]

# Every kind the renderer draws (see rrgbench_plugins.datasets.phantom.renderer).
KINDS = (
    "cardiomegaly", "effusion", "pneumothorax", "opacity", "consolidation", "edema", "congestion",
    "interstitial", "markings", "hilar_enlarged", "nodule", "mass", "granuloma", "granulomatous",
    "calcified_nodes", "aortic_calcification", "atelectasis", "scarring", "pleural_thickening",
    "scoliosis", "kyphosis", "spine_degenerative", "spinal_fusion", "fracture_rib", "fracture_clavicle",
    "fracture_spine", "osteopenia", "catheter", "pacemaker", "valve", "clips", "sternal_wires", "tube",
    "stent", "foreign_body", "breast_implants", "hyperinflation", "hypoinflation", "diaphragm_elevated",
    "diaphragm_flat", "aorta_tortuous", "mediastinum_wide", "shift", "hiatal_hernia", "lucency",
    "pneumoperitoneum", "subcutaneous_emphysema", "poor_quality",
)

# heading (lower case) -> kind, for headings whose kind does not depend on modifiers
_HEADS: dict[str, str] = {
    "cardiomegaly": "cardiomegaly", "pericardial effusion": "cardiomegaly",
    "pleural effusion": "effusion", "hemothorax": "effusion", "pleural fluid": "effusion",
    "pneumothorax": "pneumothorax", "hemopneumothorax": "pneumothorax", "hydropneumothorax": "pneumothorax",
    "opacity": "opacity", "airspace disease": "opacity", "infiltrate": "opacity", "pneumonia": "opacity",
    "lung diseases": "opacity", "tuberculosis": "opacity", "bronchitis": "markings",
    "bronchiolitis": "markings", "consolidation": "consolidation",
    "pulmonary edema": "edema", "edema": "edema",
    "pulmonary congestion": "congestion", "heart failure": "congestion", "hypertension, pulmonary": "congestion",
    "lung diseases, interstitial": "interstitial", "pulmonary fibrosis": "interstitial", "fibrosis": "interstitial",
    "cystic fibrosis": "interstitial", "bronchiectasis": "interstitial", "sarcoidosis": "hilar_enlarged",
    "lymph nodes": "hilar_enlarged", "lymph nodes ": "hilar_enlarged", "pulmonary artery": "hilar_enlarged",
    "nodule": "nodule", "mass": "mass", "granuloma": "granuloma", "calcified granuloma": "granuloma",
    "granulomatous disease": "granulomatous",
    "pulmonary atelectasis": "atelectasis", "atelectasis": "atelectasis", "volume loss": "atelectasis",
    "cicatrix": "scarring", "scar": "scarring",
    "scoliosis": "scoliosis", "kyphosis": "kyphosis", "spinal fusion": "spinal_fusion",
    "osteophyte": "spine_degenerative", "spondylosis": "spine_degenerative", "arthritis": "spine_degenerative",
    "thoracic spondylosis": "spine_degenerative", "hyperostosis, diffuse idiopathic skeletal": "spine_degenerative",
    "rib fractures": "fracture_rib", "bone diseases, metabolic": "osteopenia", "osteoporosis": "osteopenia",
    "catheters, indwelling": "catheter", "catheterization, central venous": "catheter",
    "stents": "stent", "foreign bodies": "foreign_body", "medical device": "foreign_body",
    "contrast media": "foreign_body", "breast implants": "breast_implants",
    "emphysema": "hyperinflation", "pulmonary emphysema": "hyperinflation", "bullous emphysema": "hyperinflation",
    "pulmonary disease, chronic obstructive": "hyperinflation", "lung, hyperlucent": "hyperinflation",
    "diaphragmatic eventration": "diaphragm_elevated", "aortic aneurysm": "aorta_tortuous",
    "hernia, hiatal": "hiatal_hernia", "hiatal hernia": "hiatal_hernia", "hernia, diaphragmatic": "hiatal_hernia",
    "lucency": "lucency", "cysts": "lucency", "blister": "lucency", "cavitation": "lucency",
    "pneumoperitoneum": "pneumoperitoneum", "subcutaneous emphysema": "subcutaneous_emphysema",
    "subcutaneous  emphysema": "subcutaneous_emphysema", "mediastinal emphysema": "subcutaneous_emphysema",
    "technical quality of image unsatisfactory": "poor_quality", "shift": "shift",
}

_SEVERITY = {"borderline": 0, "minimal": 1, "mild": 1, "small": 1, "moderate": 2, "prominent": 2,
             "severe": 3, "large": 3, "enlarged": 2}
_ZONES = {"apex": "apex", "upper lobe": "upper", "middle lobe": "middle", "lingula": "middle",
          "hilum": "hilum", "base": "lower", "lower lobe": "lower", "retrocardiac": "lower",
          "costophrenic angle": "lower", "cardiophrenic angle": "lower"}


@dataclass(frozen=True)
class Finding:
    """One drawable finding. ``side`` is ``left``/``right``/``bilateral``/``None`` (patient's side);
    ``zone`` is ``apex``/``upper``/``middle``/``hilum``/``lower``/``None``; ``severity`` 0 (borderline)
    to 3 (severe/large), 2 when unstated; ``mods`` keeps every modifier of the source tag."""

    kind: str
    side: str | None = None
    zone: str | None = None
    severity: int = 2
    mods: frozenset[str] = field(default_factory=frozenset)
    tag: str = ""


def _kind(head: str, mods: set[str]) -> str | None:
    if head in ("opacity", "density", "lung diseases") and "interstitial" in mods:
        return "interstitial"
    if head in _HEADS:
        return _HEADS[head]
    if head == "lung":
        for mod, kind in (("hypoinflation", "hypoinflation"), ("hyperdistention", "hyperinflation"),
                          ("interstitial", "interstitial")):
            if mod in mods:
                return kind
        return "hilar_enlarged" if "hilum" in mods and mods & {"prominent", "enlarged"} else None
    if head == "calcinosis" or head == "atherosclerosis":
        if mods & {"aorta", "aorta, thoracic", "thoracic aorta"}:
            return "aortic_calcification"
        if mods & {"lymph nodes", "mediastinum", "paratracheal"}:
            return "calcified_nodes"
        return "granuloma" if head == "calcinosis" and ("lung" in mods or not mods) else None
    if head == "costophrenic angle":
        return "effusion" if mods & {"blunted", "obscured"} else None
    if head == "density":
        return "nodule" if "round" in mods else "opacity"
    if head == "markings":
        return "interstitial" if "interstitial" in mods else "markings"
    if head == "diaphragm":
        if "elevated" in mods:
            return "diaphragm_elevated"
        return "diaphragm_flat" if "flattened" in mods else None
    if head in ("aorta", "aorta, thoracic", "thoracic aorta"):
        return "aorta_tortuous" if mods & {"tortuous", "enlarged", "prominent", "ectasia"} else None
    if head in ("deformity", "fractures, bone"):
        if "clavicle" in mods:
            return "fracture_clavicle"
        if mods & {"thoracic vertebrae", "lumbar vertebrae", "spine"}:
            return "fracture_spine" if head == "fractures, bone" else "spine_degenerative"
        if "ribs" in mods or head == "fractures, bone":
            return "fracture_rib"
        return None
    if head in ("spine", "thoracic vertebrae", "lumbar vertebrae", "cervical vertebrae"):
        return "spine_degenerative" if mods else None
    if head == "thickening":
        if "pleura" in mods:
            return "pleural_thickening"
        return "interstitial" if "interstitial" in mods else "markings"
    if head in ("cardiac shadow", "heart"):
        return "cardiomegaly" if mods & {"enlarged", "borderline", "prominent"} else None
    if head == "mediastinum":
        return "mediastinum_wide" if mods & {"prominent", "enlarged", "enlarged "} else None
    if head == "surgical instruments":
        return "sternal_wires" if mods & {"mediastinum", "sternum", "heart"} else "clips"
    if head == "sutures":
        return "sternal_wires" if mods & {"mediastinum", "sternum"} else "clips"
    if head == "implanted medical device":
        if mods & {"aortic valve", "mitral valve", "heart", "heart atria", "pulmonary artery"}:
            return "valve"
        if mods & {"humerus", "shoulder", "cervical vertebrae", "thoracic vertebrae", "abdomen"}:
            return "foreign_body"
        return "pacemaker"
    if head == "tube, inserted":
        return "tube"
    return None


def parse_tag(tag: str) -> Finding | None:
    """One MeSH tag -> a :class:`Finding`, or ``None`` when the renderer draws nothing for it."""
    parts = [p.strip().lower() for p in tag.split("/")]
    head, mods = parts[0], {p for p in parts[1:] if p}
    kind = _kind(head, mods)
    if kind is None:
        return None
    side = "bilateral" if "bilateral" in mods else "right" if "right" in mods else "left" if "left" in mods else None
    zone = next((_ZONES[m] for m in parts[1:] if m in _ZONES), None)
    severities = [_SEVERITY[m] for m in mods if m in _SEVERITY]
    severity = max(severities) if severities else 2
    if kind == "cardiomegaly" and "borderline" in mods:
        severity = 0
    return Finding(kind, side, zone, severity, frozenset(mods), tag)


def parse_mesh(tags: list[str] | tuple[str, ...]) -> list[Finding]:
    """All drawable findings of a study's MeSH tags, in tag order."""
    return [f for f in (parse_tag(t) for t in tags) if f is not None]

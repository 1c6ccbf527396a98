"""Mention phrases of the 14 CheXpert observations, written for rrgbench's rule labeler.

Each phrase is a regex fragment matched on lower-cased text at a word start; a trailing ``*`` means "any
word ending" (``atelecta*`` matches atelectasis, atelectatic). *Unmentions* are phrases that contain a
mention but are not one (``pericardial effusion`` is not a pleural effusion). *Size-like* phrases name an
anatomy whose size is the finding (``heart size``, ``mediastinal contour``): they count as positive only
next to an enlargement word, since "heart size" alone says nothing. ``OTHER_FINDINGS`` are abnormalities
outside the 14 observations; mentioned positively, they rule out "No Finding".

Informed by the observation definitions of CheXpert (Irvin et al. 2019) and the vocabulary of chest
radiograph reports; the lists are rrgbench's own.
"""

from __future__ import annotations

MENTIONS: dict[str, list[str]] = {
    "Enlarged Cardiomediastinum": [
        "enlarged cardiomediastin*", "cardiomediastinal enlargement", "mediastinal widening", "widened mediastinum",
        "widening of the mediastinum", "mediastinal enlargement", "enlarged mediastinum",
    ],
    "Cardiomegaly": [
        "cardiomegaly", "cardiac enlargement", "enlarged heart", "enlarged cardiac silhouette",
        "enlargement of the cardiac silhouette", "enlargement of the heart", "cardiomegal*",
    ],
    "Lung Opacity": [
        "opaci*", "airspace disease", "air-space disease", "air space disease", "airspace process",
        "infiltrat*", "increased density", "increased densities", "decreased translucency",
        "interstitial marking*", "interstitial pattern", "interstitial prominence", "interstitial lung disease",
        "reticular marking*", "reticular pattern", "reticulation", "reticulonodular", "parenchymal scar*",
        "peribronchial thickening", "peribronchial cuffing", "bronchial wall thickening", "scar", "scarring",
        "scars", "airspace densit*", "hazy densit*", "patchy densit*", "streaky densit*", "hazy", "haziness",
    ],
    "Lung Lesion": [
        "mass", "masses", "nodule*", "nodular densit*", "nodular opaci*", "nodular", "lump",
        "cavitary lesion*", "cavitation", "cavity", "carcinoma", "neoplasm*", "tumor*", "tumour*", "malignan*",
        "lung lesion*", "pulmonary lesion*", "metasta*",
    ],
    "Edema": [
        "edema", "oedema", "heart failure", "chf", "vascular congestion", "pulmonary congestion",
        "venous congestion", "congestion", "congestive", "indistinctness", "vascular prominence",
        "vascular engorgement", "cephalization", "kerley",
    ],
    "Consolidation": ["consolidat*"],
    "Pneumonia": ["pneumonia*", "bronchopneumonia", "infection", "infectious", "infective", "pneumonitis"],
    "Atelectasis": ["atelecta*", "collapse*", "collapsed"],
    "Pneumothorax": ["pneumothora*", "hydropneumothora*"],
    "Pleural Effusion": ["effusion*", "pleural fluid", "hydrothorax", "fluid in the pleural", "hydropneumothora*"],
    "Pleural Other": [
        "pleural thickening", "pleural plaque*", "pleural scar*", "pleuroparenchymal scar*",
        "pleural-parenchymal scar*", "pleural parenchymal scar*", "pleuro-parenchymal scar*", "fibrothorax",
        "pleural calcification*", "apical cap*", "apical pleural", "thickening of the pleura",
        "pleural based", "pleural-based", "fibrosis", "fibrotic",
    ],
    "Fracture": ["fracture*", "fractured"],
    "Support Devices": [
        "pacer", "pacemaker*", "picc", "line", "lines", "catheter*", "tube", "tubes", "valve", "valves",
        "defibrillator", "icd", "aicd", "device*", "drain", "drains", "hardware", "arthroplast*", "plate",
        "screw*", "cannula", "apparatus", "coil*", "mediport", "port-a-cath", "portacath", "port",
        "stent*", "prosthe*", "leads", "lead", "generator", "wire*", "clip*",
        "monitoring", "electrode*", "ng", "ogt", "ett", "swan-ganz", "swan ganz", "tip", "shunt", "tubing",
        "bone anchor*", "occluder", "closure device",
    ],
}

# Size-like phrases: positive only next to an enlargement word; negated / uncertain as usual.
SIZE_LIKE: dict[str, list[str]] = {
    "Enlarged Cardiomediastinum": [
        "mediastinum", "cardiomediastinum", "mediastinal contour*", "mediastinal silhouette*",
        "cardiomediastinal silhouette*", "cardiomediastinal contour*", "mediastinal configuration",
        "cardiomediastinal", "mediastinal", "superior mediastinum", "pericardial silhouette",
    ],
    "Cardiomegaly": [
        "heart size", "the heart", "heart", "cardiac silhouette*", "cardiac size", "cardiac shadow",
        "cardiac contour*", "size of the heart", "cardiac", "heart shadow", "cardiothoracic ratio",
    ],
}

ENLARGEMENT = ("enlarg*", "large", "increased", "increase in", "prominent", "prominence", "widen*", "wide",
               "mild*", "moderate*", "marked*", "severe*", "big", "dilat*", "upper limit*", "top normal",
               "top-normal", "borderline", "cardiomegaly")

UNMENTIONS: dict[str, list[str]] = {
    "Lung Opacity": ["pleural scar*", "opacity of the bones", "sclerotic opaci*"],
    "Lung Lesion": ["calcified nodul*", "calcified granulom*", "massive", "mass effect", "soft tissue mass*",
                    "nodular calcification*", "breast mass*"],
    "Pleural Effusion": ["pericardial effusion*", "joint effusion*"],
    "Atelectasis": ["vertebral body collapse", "compression collapse", "collapse of the vertebra*",
                    "vertebral collapse"],
    "Edema": ["soft tissue edema", "subcutaneous edema"],
    "Pneumonia": ["urinary tract infection", "uti", "granulomatous infection*", "prior infection*",
                  "old infection*", "remote infection*", "granulomatous infectious"],
    "Fracture": [],
    "Support Devices": [
        "kerley b lines", "kerley lines", "septal lines", "pleural line", "midline", "line of", "lines of",
        "azygoesophageal line", "paratracheal line", "paraspinal line", "pleural lines", "fissure line",
        "plate-like", "platelike", "plate like", "port of entry", "lead to", "leads to", "tube-like",
        "pleural-based lead", "ng/ml", "tip of the", "apical tip", "lung tip", "tip of", "skin fold line", "skin fold", "line pattern", "breast prosthe*",
        "breast implant*",
    ],
    "Cardiomegaly": ["overlying the heart", "over the heart", "overlies the heart", "behind the heart",
                     "retrocardiac", "heart failure", "cardiac pacemaker", "cardiac monitoring", "cardiac device",
                     "cardiac valve*", "cardiac lead*", "heart border*", "cardiac border*", "cardiac apex",
                     "cardiac leads", "projecting over the heart", "projects over the heart",
                     "heart shadow obscur*", "in the heart"],
    "Enlarged Cardiomediastinum": ["mediastinal lymph*", "mediastinal clip*", "mediastinal drain*",
                                   "pneumomediastinum", "mediastinal shift", "mediastinal air",
                                   "mediastinal mass*"],
    "Pleural Other": [],
}

OTHER_FINDINGS = [
    "emphysema*", "hyperinflat*", "hyperexpan*", "hyperaeration", "hyperlucen*", "copd", "bullae", "bulla",
    "bullous", "scoliosis", "kyphosis", "kyphotic", "degenerat*", "spondylo*", "osteophyt*", "calcifi*",
    "granulom*", "hernia*", "thickening", "atheroscl*", "tortuous*", "tortuosity", "ectatic", "ectasia",
    "aneurysm*", "aspiration", "contusion*", "osteopenia", "osteopenic", "osteoporo*", "pneumomediastinum",
    "pneumoperitoneum", "subcutaneous emphysema", "cuffing", "inflammat*", "pulmonary hypertension",
    "hypertension", "deformit*", "hemorrhage", "haemorrhage", "hematoma", "volume loss", "bronchitis",
    "bronchiectasis", "eventration", "elevat*", "blunt*", "cyst*", "lymphadenopathy", "adenopathy",
    "bronchiolitis", "airways disease", "airway disease", "asthma", "hyperexpanded", "sclero*", "lytic",
    "densit*", "abnormalit*", "cardiopulmonary disease", "acute disease", "disease", "lesion*",
    "pericardial effusion", "dextro*", "situs", "bone island", "flattening", "flattened", "mass effect",
    "low lung volume*", "hypoinflat*", "hypoventilat*", "crowding", "poor inspiration", "shallow inspiration",
]

"""The offline rule labeler: mentions, negation / uncertainty scope, No Finding, caching, API shape."""

from __future__ import annotations

import pytest

from rrgbench.api import CHEXPERT_LABELS
from rrgbench.clinical import get_labeler, label_reports
from rrgbench.clinical.scope import Sentence, sentences

CASES = [
    ("No pneumothorax. Mild cardiomegaly.", {"Cardiomegaly": 1, "Pneumothorax": 0}),
    ("The heart is normal in size. The mediastinum is unremarkable. The lungs are clear.",
     {"Enlarged Cardiomediastinum": 0, "Cardiomegaly": 0, "No Finding": 1}),
    ("Heart size and pulmonary vascularity appear within normal limits. No focal airspace disease, "
     "pleural effusion, or pneumothorax.",
     {"Cardiomegaly": 0, "Lung Opacity": 0, "Pneumothorax": 0, "Pleural Effusion": 0, "No Finding": 1}),
    ("There is a small left pleural effusion. Possible left lower lobe pneumonia. No pneumothorax.",
     {"Pneumonia": -1, "Pneumothorax": 0, "Pleural Effusion": 1}),
    ("Stable cardiomegaly. Left-sided pacemaker. Atelectasis cannot be excluded.",
     {"Cardiomegaly": 1, "Atelectasis": -1, "Support Devices": 1}),
    ("The cardiomediastinal silhouette is enlarged. Calcified granuloma in the right upper lobe.",
     {"Enlarged Cardiomediastinum": 1}),
    ("Cardiomegaly with normal pulmonary vascularity.", {"Cardiomegaly": 1}),
    ("No acute cardiopulmonary abnormality. Degenerative changes of the thoracic spine.", {}),
    ("Bibasilar opacities, likely atelectasis versus pneumonia.",
     {"Lung Opacity": 1, "Pneumonia": -1, "Atelectasis": -1}),
    ("Heart size is upper limits of normal. No edema.", {"Cardiomegaly": 0, "Edema": 0, "No Finding": 1}),
    ("No evidence of pneumothorax, but there is a small right effusion.", {"Pneumothorax": 0, "Pleural Effusion": 1}),
    ("Small pericardial effusion.", {}),
    # the CheXpert labeler's negation.txt: "No definite XXX" and "no NN to suggest XXX" are negations
    ("No definite consolidation.", {"Consolidation": 0, "No Finding": 1}),
    ("No definite pleural effusion.", {"Pleural Effusion": 0, "No Finding": 1}),
    ("No focal airspace opacity to suggest pneumonia.", {"Lung Opacity": 0, "Pneumonia": 0, "No Finding": 1}),
    ("Findings suggest pneumonia.", {"Pneumonia": -1}),
    ("No obvious consolidation.", {"Consolidation": -1}),
    ("Findings consistent with CHF.", {"Edema": 1, "Cardiomegaly": -1}),
    ("Right rib fracture. No pneumothorax, mild cardiomegaly.", {"Fracture": 1, "Pneumothorax": 0, "Cardiomegaly": 1}),
    ("", {"No Finding": 1}),
    ("Retrocardiac opacity, likely atelectasis.", {"Lung Opacity": 1, "Atelectasis": -1}),
    ("Median sternotomy wires are intact.", {"Support Devices": 1, "No Finding": 1}),
    ("Interval resolution of the right pneumothorax.", {"Pneumothorax": 0, "No Finding": 1}),
    ("The previously seen right pleural effusion has resolved.", {"Pleural Effusion": 0, "No Finding": 1}),
    ("Several age-indeterminate left rib fractures.", {"Fracture": 1}),
    ("Low lung volumes. No focal consolidation.", {"Consolidation": 0}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_rule_labels(text: str, expected: dict[str, int]) -> None:
    got = label_reports([text])[0]
    assert list(got) == list(CHEXPERT_LABELS)
    assert {k: v for k, v in got.items() if v is not None} == expected


def test_no_finding_is_blank_not_zero_when_abnormal() -> None:
    got = label_reports(["Large right pleural effusion."])[0]
    assert got["No Finding"] is None and got["Pleural Effusion"] == 1


def test_support_devices_do_not_cancel_no_finding() -> None:
    got = label_reports(["Right PICC line tip in the SVC. Lungs are clear."])[0]
    assert got["Support Devices"] == 1 and got["No Finding"] == 1


def test_cache_returns_fresh_copies_in_order() -> None:
    texts = ["No effusion.", "Mild cardiomegaly.", "No effusion."]
    first = label_reports(texts)
    first[0]["Pleural Effusion"] = 99
    again = label_reports(texts)
    assert again[0]["Pleural Effusion"] == 0 and again[2] == again[0] and again[1]["Cardiomegaly"] == 1


def test_unknown_labeler_is_a_user_error() -> None:
    from rrgbench.api import RRGBenchError

    with pytest.raises(RRGBenchError, match="unknown labeler 'nope'"):
        label_reports(["x"], labeler="nope")
    with pytest.raises(RRGBenchError, match="labeler 'chexpert_rules': bad options"):
        label_reports(["x"], labeler="chexpert_rules", chekpoint="typo")


def test_scope_cues_and_sentences() -> None:
    assert sentences("Heart size 2.5 cm. No effusion; lungs clear") == ["heart size 2.5 cm", "no effusion",
                                                                       "lungs clear"]
    s = Sentence("no focal consolidation, pleural effusion, or pneumothorax")
    assert s.state(s.text.index("pneumothorax"), len(s.text)) == 0
    s = Sentence("no pneumothorax, there is mild atelectasis")
    assert s.state(s.text.index("atelectasis"), len(s.text)) == 1


def test_mentions_are_inspectable() -> None:
    mentions = get_labeler().mentions("No pneumothorax.")
    assert mentions == [("Pneumothorax", "pneumothorax", 0)]

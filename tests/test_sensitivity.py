"""Sensitivity suite: every edit on hand-written reports, and the suite on a small fixture."""

from __future__ import annotations

from rrgbench.sensitivity import edits as E
from rrgbench.sensitivity import suite

R1 = "There is a small left pleural effusion. The lungs are clear. No pneumothorax."
R2 = "Heart size is normal. The cardiac silhouette is unremarkable."
R3 = "The endotracheal tube tip is 4 cm above the carina. Mild cardiomegaly."


def _edit(name: str, text: str, seed: int = 0) -> str | None:
    return E.apply(next(e for e in E.EDITS if e.name == name), text, seed, "s1")


def test_harmful_edits_on_hand_written_reports() -> None:
    assert _edit("negate_positive", R1) == "There is no pleural effusion. The lungs are clear. No pneumothorax."
    assert _edit("negate_negative", R1) == "There is a small left pleural effusion. The lungs are clear. There is pneumothorax."
    assert _edit("negate_negative", "Without focal consolidation.") == "With focal consolidation."
    assert _edit("laterality_swap", R1) == "There is a small right pleural effusion. The lungs are clear. No pneumothorax."
    assert _edit("laterality_swap", "No left effusion.") is None  # negated sentences are left alone
    assert _edit("drop_finding", R1) == "The lungs are clear. No pneumothorax."
    assert _edit("drop_finding", "Small effusion.") is None  # a one-sentence report is not eligible
    inserted = _edit("insert_finding", R2)
    assert inserted is not None and len(E.sentences(inserted)) == 3
    assert not any(s in inserted for s in ("heart is moderately enlarged",))  # heart is mentioned: not inserted
    assert _edit("severity_change", R1) == "There is a large left pleural effusion. The lungs are clear. No pneumothorax."
    assert _edit("severity_change", "No large effusion.") is None
    assert _edit("device_position", R3) == ("The endotracheal tube tip is in the right mainstem bronchus. "
                                             "Mild cardiomegaly.")
    assert _edit("device_position", R1) is None


def test_neutral_edits_on_hand_written_reports() -> None:
    shuffled = _edit("sentence_shuffle", R1)
    assert shuffled is not None and shuffled != R1 and sorted(E.sentences(shuffled)) == sorted(E.sentences(R1))
    assert _edit("sentence_shuffle", "One sentence only.") is None
    syn = _edit("synonym", R2)
    assert syn in ("Heart size is normal. The heart size is unremarkable.",  # every single substitution
                   "Heart size is normal. The cardiac silhouette is normal.",
                   "Cardiac silhouette is normal. The cardiac silhouette is unremarkable.",
                   "Heart size is within normal limits. The cardiac silhouette is unremarkable.",
                   "Heart size is unremarkable. The cardiac silhouette is unremarkable.")
    assert _edit("normal_rephrase", R1) in ("There is a small left pleural effusion. Both lungs are clear. No pneumothorax.",
                                            "There is a small left pleural effusion. The lungs are clear. "
                                            "There is no evidence of pneumothorax.")
    assert _edit("normal_rephrase", "Small effusion.") is None


def test_edits_are_deterministic_under_the_seed() -> None:
    long = " ".join(f"Sentence {k} is here." for k in range(8))
    assert _edit("sentence_shuffle", long, 3) == _edit("sentence_shuffle", long, 3)
    assert len({_edit("sentence_shuffle", long, s) for s in range(6)}) > 1


FIXTURE = {
    f"s{k}": text for k, text in enumerate([
        "The heart is normal in size. The mediastinal contours are within normal limits. There is a small right "
        "pleural effusion. The lungs are otherwise clear. No pneumothorax is seen. The osseous structures are intact.",
        "Heart size and pulmonary vascularity appear within normal limits. There is focal consolidation in the left "
        "lower lobe. No pleural effusion. No pneumothorax. The visualized bony structures are unremarkable.",
        "The cardiomediastinal silhouette is stable in appearance. Mild cardiomegaly. There is no focal airspace "
        "disease. No pleural effusion or pneumothorax. Degenerative changes of the thoracic spine are noted.",
        "The trachea is midline. The cardiomediastinal silhouette is normal. There is mild pulmonary edema. There is "
        "no pneumothorax. The visualized osseous structures are within normal limits for age.",
        "The lungs are hyperexpanded. There is a small left pleural effusion. The heart size is within normal "
        "limits. No pneumothorax is identified. The thoracic aorta is tortuous.",
        "Heart size is normal. The mediastinum is unremarkable. There is patchy atelectasis at the right base. "
        "No pneumothorax. The osseous structures are unremarkable for the patient's age.",
    ])}


def test_suite_ce_drops_under_negation_flips_while_bleu_barely_moves(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path))
    res = suite.run(FIXTURE, ["nlg", "chexpert_rules"], n=50, seed=0, bootstrap=100,
                    options={"nlg": {"meteor": False}}, dataset="fixture")
    rows = {(r["edit"], r["key"]): r for r in res["rows"]}
    edits = {e["name"]: e for e in res["edits"]}
    assert edits["negate_positive"]["eligible"] == 6 and edits["device_position"]["eligible"] == 0
    ce, bleu = rows[("negate_positive", "ce_f1_micro")], rows[("negate_positive", "bleu_4")]
    assert ce["verdict"] == "sensitive" and ce["ci95"][1] < 0 and ce["right_fraction"] == 1.0
    assert ce["delta"] < -0.3 and abs(bleu["delta"]) < abs(ce["delta"]) / 3
    assert rows[("laterality_swap", "ce_f1_micro")]["verdict"] == "insensitive"  # CheXpert labels have no side
    assert rows[("sentence_shuffle", "ce_f1_micro")]["verdict"] == "robust"
    assert rows[("device_position", "bleu_4")]["verdict"] == "no-eligible-samples"
    table = suite.format_table(res)
    assert "negate_positive" in table and "ce_f1_micro" in table


def test_leaderboard_builds_the_metrics_page_from_the_suite_output(tmp_path, monkeypatch) -> None:
    import json

    from rrgbench.leaderboard import build_site

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    res = suite.run(dict(list(FIXTURE.items())[:3]), ["chexpert_rules"], n=3, bootstrap=20, dataset="fixture")
    runs = tmp_path / "runs"
    (runs / "_sensitivity").mkdir(parents=True)
    (runs / "_sensitivity" / "fixture.json").write_text(json.dumps(res))
    (runs / "_sensitivity" / "broken.json").write_text("{not json")
    site = build_site(runs, tmp_path / "site")
    html = (tmp_path / "site" / "metrics.html").read_text()
    assert "metrics.html" in site.pages and "How the metrics respond" in html
    assert "negate_positive" in html and "ce_f1_micro" in html and "background: rgba(" in html
    assert "broken.json" in html  # a bad file is named, not fatal
    assert 'href="metrics.html"' in (tmp_path / "site" / "index.html").read_text()


def test_metrics_page_shows_the_labeler_held_out_agreement(tmp_path) -> None:
    import json

    from rrgbench.leaderboard import build_site

    rows = [{"label": "Pleural Effusion", "support": 79, "precision": 0.9, "recall": 0.8, "f1": 0.85}]
    summary = {"labeler": "chexpert_rules@2+x", "split_rule": "by uid hash",
               "dev": {"n": 10, "micro_f1": 0.9, "rows": rows}, "heldout": {"n": 12, "micro_f1": 0.888, "rows": rows}}
    (tmp_path / "runs" / "_labeler").mkdir(parents=True)
    (tmp_path / "runs" / "_labeler" / "openi_mesh.json").write_text(json.dumps(summary))
    build_site(tmp_path / "runs", tmp_path / "site")
    html = (tmp_path / "site" / "metrics.html").read_text()
    assert "held-out half" in html and "0.888" in html and "Pleural Effusion" in html

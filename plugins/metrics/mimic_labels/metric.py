"""CE with MIMIC-CXR's official reference labels instead of labelling the references again.

Reference labels come from ``reference_labels.json``, written by ``rrgbench data prepare mimic_cxr`` from
``mimic-cxr-2.0.0-chexpert.csv`` (CheXpert labeler) or ``mimic-cxr-2.0.0-negbio.csv`` (NegBio), looked up
by the reference text (see :func:`rrgbench.data.importers.reference_label_table`). Generated reports are
labelled by ``hyp_labeler`` (default ``chexpert_rules``). The signature names both labelers and the table.

Options: ``source`` (``chexpert`` | ``negbio``), ``labels_file`` (default
``$RRGBENCH_DATA/mimic_cxr/reference_labels.json``), ``hyp_labeler``, and the CE options of
:class:`rrgbench.clinical.ce_metric.CEMetric` (preset, labels, uncertain, averages).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rrgbench.api import CHEXPERT_LABELS, RRGBenchError
from rrgbench.clinical import label_reports
from rrgbench.clinical.ce import positive_mask
from rrgbench.clinical.ce_metric import CEMetric

SOURCES = {"chexpert": "CheXpert labeler", "negbio": "NegBio"}


class MimicLabelsCE(CEMetric):
    """CE: generated reports labelled by ``hyp_labeler``, references by MIMIC-CXR's label CSV."""

    name: ClassVar[str] = "mimic_labels"
    table_version: ClassVar[str] = "1"  # bump when the reference lookup changes

    def __init__(self, source: str = "chexpert", labels_file: str | None = None,
                 hyp_labeler: str = "chexpert_rules", **options: Any) -> None:
        if source not in SOURCES:
            raise RRGBenchError(f"mimic_labels: unknown source '{source}'; choose one of {', '.join(SOURCES)}")
        self.labeler_name = hyp_labeler
        super().__init__(**options)
        self.options.update(source=source, labels_file=labels_file, hyp_labeler=hyp_labeler)
        self.source = source
        self.labels_file = Path(labels_file).expanduser() if labels_file else None
        self._table: dict[str, list[Any]] | None = None
        self._table_hash = ""

    def _path(self) -> Path:
        if self.labels_file is not None:
            return self.labels_file
        from rrgbench.data.importers import REFERENCE_LABELS
        from rrgbench.paths import data_root

        return data_root("mimic_cxr") / REFERENCE_LABELS

    def availability(self) -> str | None:
        path = self._path()
        if not path.is_file():
            return (f"{path} not found: it is written by `rrgbench data prepare mimic_cxr --from MIMIC_CXR_JPG_DIR` "
                    f"when mimic-cxr-2.0.0-{self.source}.csv(.gz) is in that folder (or pass labels_file)")
        return super().availability()

    def _load_table(self) -> dict[str, list[Any]]:
        if self._table is None:
            path = self._path()
            raw = path.read_bytes()
            try:
                data = json.loads(raw)
                table = data["labelers"][self.source]
            except (ValueError, KeyError, TypeError):
                raise RRGBenchError(f"{path}: no '{self.source}' reference labels (was "
                                    f"mimic-cxr-2.0.0-{self.source}.csv present at import?)") from None
            self._table, self._table_hash = table, hashlib.sha256(raw).hexdigest()[:12]
        return self._table

    def signature(self) -> str:
        if self._path().is_file():
            self._load_table()
        table = self._table_hash or "missing"
        refs = f"ref_labels:{self.source}({SOURCES[self.source]}, mimic-cxr-2.0.0-{self.source}.csv)+{table}"
        return f"{refs}|hyp_{super().signature()}|mimic_labels:{self.table_version}"

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        from rrgbench.scoring.engine import SampleError

        table = self._load_table()
        ref_states: list[list[Any]] = []
        for i, ref in enumerate(refs):
            states = table.get(hashlib.sha1(ref.encode("utf-8")).hexdigest())
            if states is None:
                raise SampleError(i, f"reference text has no {self.source} label in {self._path()} "
                                     "(mimic_labels scores MIMIC-CXR references as imported by rrgbench)")
            ref_states.append(states)
        hyp_labels = label_reports(hyps, self.labeler_name, **self.labeler_options)
        unc = self.config.uncertain
        out = []
        for h, states in zip(hyp_labels, ref_states, strict=True):
            r = dict(zip(CHEXPERT_LABELS, states, strict=True))
            out.append({"hyp_pos": positive_mask(h, unc), "ref_pos": positive_mask(r, unc),
                        "hyp_labels": [h[k] for k in CHEXPERT_LABELS], "ref_labels": list(states)})
        return out

"""The PromptMRG family core shared by OS-RRG, REVTAF and KIF-ISD (notes §2, §4).

``config``: tiny / paper presets and per-dataset generation lengths. ``decoder``: BERT LM-head decoder
with cross-attention and a diagnosis prompt of state tokens. ``heads``: the 4-state classifier with logit
adjustment, the text bank and the retrieval memory. ``method``: the :class:`FamilyMethod` base class
(prepare, stage training with validation-only selection, batched beam-search generation, save/load).
"""

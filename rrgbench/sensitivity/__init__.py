"""Metric sensitivity suite: controlled, rule-based edits of reference reports (:mod:`.edits`) scored
edited-vs-original with each metric (:mod:`.suite`)."""

"""Static leaderboard: run records → pandas long table → Jinja2 templates → HTML + CSV + JSON.

Entry point: :func:`build_site` (the ``rrgbench leaderboard`` command).
"""

from __future__ import annotations

from .site import Site, build_site, default_template_dir

__all__ = ["Site", "build_site", "default_template_dir"]

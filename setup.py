"""Packaging shim: the folder ``plugins/`` is installed as the package ``rrgbench_plugins``.

All metadata lives in pyproject.toml; this file only maps the folder to its import name.
"""

from glob import glob

from setuptools import find_packages, setup

plugin_packages = find_packages(include=["plugins", "plugins.*"])
setup(
    packages=find_packages(include=["rrgbench", "rrgbench.*"])
    + ["rrgbench_plugins" + name[len("plugins"):] for name in plugin_packages],
    package_dir={"rrgbench_plugins": "plugins"},
    # leaderboard templates: used from <repo>/templates in a checkout, from here when installed
    data_files=[("share/rrgbench/templates", sorted(glob("templates/*.*")))],
)

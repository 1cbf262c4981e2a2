"""Packaging glue that pyproject.toml cannot say: the top-level ``migrations/`` folder is
installed as the ``reeld.migrations`` package, so the daemon finds its schema when installed."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["reeld", "reeld.*"]), "reeld.migrations", "reeld.migrations.versions"],
    package_dir={"reeld.migrations": "migrations"},
)

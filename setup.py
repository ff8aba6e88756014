"""Build hook for the optional native matcher (alerts/_scan.c); everything else is in pyproject.toml.

`optional=True`: where no C compiler is present the build goes on without it and wirewatch uses its
pure-Python path (OpenCC and ahocorasick_rs), which gives the same results, more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("wirewatch.alerts._scan", sources=["alerts/_scan.c"], optional=True)])

"""Builds Vigil's one compiled module, the feature state walk (see its docstring for why).

Everything else is in pyproject.toml; setuptools reads both.
"""

from Cython.Build import cythonize
from setuptools import setup

setup(
    ext_modules=cythonize(
        ["src/vigil/features/state.pyx"],
        compiler_directives={"language_level": 3},
    )
)

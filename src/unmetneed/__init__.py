"""unmetneed: the treatment gap for opiate/crack users and dependent drinkers in England.

The library is the product; the ``unmetneed`` command is one client of it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unmetneed")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

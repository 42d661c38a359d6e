"""reportkit: party-building work reports from Excel activity logs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reportkit")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

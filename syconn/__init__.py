"""syconn: connectomics from volume EM, every result queryable in SQL.

A clean-room Python reimplementation of SyConn (Schubert et al., Nature Methods 2022).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("syconn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

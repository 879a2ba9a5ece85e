"""Volume formats (KNOSSOS, Zarr v3, HDF5), all indexed [x, y, z]."""

from syconn.io.volume import FORMATS, Volume, create_volume, detect_format, open_volume, split_spec

__all__ = ["FORMATS", "Volume", "create_volume", "detect_format", "open_volume", "split_spec"]

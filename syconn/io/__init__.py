"""File formats: volumes (KNOSSOS, Zarr v3, HDF5), agglomeration graphs (edge lists), meshes
(PLY/OBJ), skeletons (SWC), Neuroglancer."""

from syconn.io.agglomeration import read_agglomeration
from syconn.io.volume import FORMATS, Volume, create_volume, detect_format, open_volume, split_spec

__all__ = ["FORMATS", "Volume", "create_volume", "detect_format", "open_volume",
           "read_agglomeration", "split_spec"]
# Mesh/skeleton stores and exporters live in syconn.io.meshes, syconn.io.skeletons,
# syconn.io.swc and syconn.io.neuroglancer; they are imported from there (they pull in more
# dependencies than reading a volume needs).

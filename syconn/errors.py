"""Exception hierarchy.

Every error a user can cause derives from :class:`SyconnError` and from the builtin it
resembles, so ``except FileNotFoundError`` still works.  The CLI turns a ``SyconnError`` into
one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "SyconnError",
    "ConfigError",
    "VolumeNotFound",
    "VolumeFormatError",
    "InputError",
    "ObjectNotFound",
    "DatabaseError",
    "ReadOnlyViolation",
    "ReadOnlyRoleError",
    "StorageError",
    "PipelineError",
    "ModelError",
]


class SyconnError(Exception):
    """Base class of every error a user can cause."""


class ConfigError(SyconnError, ValueError):
    """config.yml holds an unknown key, a wrong type or an impossible value."""


class VolumeNotFound(SyconnError, FileNotFoundError):
    """A volume spec names a path (or HDF5 key) that does not exist."""


class VolumeFormatError(SyconnError, ValueError):
    """A volume exists but cannot be read as the format it claims (truncated, bad conf ...)."""


class InputError(SyconnError, ValueError):
    """Input data are inconsistent: wrong dtype, mismatched shapes, bad agglomeration graph."""


class ObjectNotFound(InputError, LookupError):
    """A working directory holds no such object (cell, supervoxel, synapse) or no such result
    yet (meshes, skeletons before their step ran)."""


class DatabaseError(SyconnError, RuntimeError):
    """The database cannot be reached, or refuses what was asked of it."""


class ReadOnlyViolation(DatabaseError):
    """A statement given to a read-only session tried to write."""


class ReadOnlyRoleError(DatabaseError):
    """A read-only session was asked of a database role that can write."""


class StorageError(SyconnError, OSError):
    """The working directory's disk is full (or over quota), or otherwise refuses a write."""


class PipelineError(SyconnError, RuntimeError):
    """A pipeline task failed; the message names the task and the reason."""


class ModelError(SyconnError, ValueError):
    """A model file is missing, corrupt, of another kind or of an unsupported format version."""

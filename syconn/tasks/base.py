"""Shared machinery of the Luigi tasks: working directory, block grid, atomic targets.

Conventions every task follows (STYLE.md 7-9):

- A task's only significant parameters are ``working_dir`` and its unit of work (``block``,
  ``kind``).  Algorithm settings come from ``WD/config.yml``; a task's outputs live under a
  folder named by a short hash of the config sections it depends on (``settings_hash``), so
  editing a setting makes the affected steps (and everything downstream) run again, while
  execution settings (workers, scheduler) change nothing.
- File targets are written atomically (temporary path + rename): a killed task leaves no
  partial output and simply runs again.
- A task that loads SQL writes its completion row (``task_runs``) in the same transaction as its
  rows (:class:`DBTarget`).
- Blocks are numbered in raster order (x fastest) over the grid ``ceil(shape / block_shape)``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Sequence

import luigi
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from syconn.config import Config, load_config
from syconn.db import task_done
from syconn.read import seg_cache_path, settings_hash, step_dir
from syconn.workdir import open_engine

__all__ = [
    "WorkingDirParameter",
    "task_key",
    "Block",
    "block_grid",
    "SyconnTask",
    "DBTarget",
    "write_parquet",
    "read_parquet",
    "atomic_path",
    "settings_hash",
]


@dataclass(frozen=True)
class Block:
    """One block of the grid: raster index, core offset and core shape (voxels, x y z)."""

    index: int
    offset: tuple[int, int, int]
    shape: tuple[int, int, int]

    @property
    def end(self) -> tuple[int, int, int]:
        return tuple(o + s for o, s in zip(self.offset, self.shape))

    def grown(self, lower: Sequence[int], upper: Sequence[int]) -> tuple[tuple[int, ...],
                                                                           tuple[int, ...]]:
        """(offset, shape) of the core grown by ``lower``/``upper`` voxels (may leave the volume)."""
        off = tuple(o - l for o, l in zip(self.offset, lower))
        shp = tuple(s + l + u for s, l, u in zip(self.shape, lower, upper))
        return off, shp


def block_grid(shape_xyz: Sequence[int], block_shape: Sequence[int]) -> list[Block]:
    """All blocks covering a volume, raster order with x fastest."""
    counts = [-(-int(n) // int(b)) for n, b in zip(shape_xyz, block_shape)]
    blocks = []
    for i, (bz, by, bx) in enumerate(product(range(counts[2]), range(counts[1]), range(counts[0]))):
        off = (bx * block_shape[0], by * block_shape[1], bz * block_shape[2])
        shp = tuple(min(b, n - o) for b, n, o in zip(block_shape, shape_xyz, off))
        blocks.append(Block(i, off, shp))
    return blocks


def cache_chunks(block_shape: Sequence[int]) -> tuple[int, int, int]:
    """Zarr chunk shape for copies of input volumes: the largest divisor of each block edge that
    is a multiple of 16 and at most 64, so every chunk belongs to exactly one block (blocks
    write their own chunks, never a shared one) and halo reads decompress thin shells."""
    out = []
    for b in block_shape:
        c = max(d for d in range(16, min(64, int(b)) + 1, 16) if int(b) % d == 0)
        out.append(c)
    return tuple(out)


def grid_counts(shape_xyz: Sequence[int], block_shape: Sequence[int]) -> tuple[int, int, int]:
    return tuple(-(-int(n) // int(b)) for n, b in zip(shape_xyz, block_shape))


class atomic_path:
    """Context manager: yields a temporary path next to ``path``; renames it on success."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            if self.tmp.is_dir():
                import shutil
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                self.tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, path: Path | str) -> None:
    """Write a Parquet file atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_parquet(path: Path | str) -> pa.Table:
    return pq.read_table(path)


class DBTarget(luigi.Target):
    """Complete when ``task_runs`` holds a row for ``task_id`` in the working directory's DB."""

    def __init__(self, working_dir: str, task_id: str):
        self.working_dir = working_dir
        self.task_id = task_id

    def exists(self) -> bool:
        return task_done(open_engine(self.working_dir), self.task_id)


def task_key(task: luigi.Task) -> str:
    """``Family(param=value, ...)`` of the significant parameters but the working directory,
    sorted: a task's identity within its working directory, whatever path reaches it (the
    completion key of :meth:`SyconnTask.db_task_id`, and how progress lines name tasks)."""
    params = task.to_str_params(only_significant=True)
    params.pop("working_dir", None)
    inner = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{task.task_family}({inner})" if inner else task.task_family


class WorkingDirParameter(luigi.Parameter):
    """The working directory, normalised to its canonical absolute path.

    ``wd``, ``wd/``, ``./wd`` and ``/abs/wd`` are one task to Luigi (and to a central scheduler
    that dedupes task ids): the path as typed used to be part of the task id, so the README's
    luigi line with an absolute path re-ran steps that ``syconn run wd`` had done.
    """

    def normalize(self, x):
        return os.path.realpath(os.path.expanduser(str(x)))


class SyconnTask(luigi.Task):
    """Base of every syconn task: knows its working directory and config."""

    working_dir = WorkingDirParameter(description="syconn working directory")

    # ---- working directory ----
    @property
    def wd(self) -> Path:
        return Path(self.working_dir)

    @functools.cached_property
    def cfg(self) -> Config:
        return load_config(self.working_dir)

    @property
    def engine(self):
        return open_engine(self.working_dir, self.cfg)

    def dataset_shape(self) -> tuple[int, int, int]:
        from syconn.io import open_volume

        with open_volume(self.cfg.inputs.seg) as seg:
            return seg.shape

    @functools.cached_property
    def blocks(self) -> list[Block]:
        return block_grid(self.dataset_shape(), self.cfg.dataset.block_shape)

    def block(self, index: int) -> Block:
        return self.blocks[index]

    def seg_cache_path(self) -> Path:
        """The segmentation copied into Zarr by ``SupervoxelBlock`` (fast halo reads)."""
        return seg_cache_path(self.wd, self.cfg)

    def read_seg(self, offset, shape) -> np.ndarray:
        """Read the segmentation from the Zarr copy (blocks whose SupervoxelBlock is done)."""
        from syconn.io import open_volume

        with open_volume(self.seg_cache_path()) as vol:
            return vol.read(offset, shape)

    def step_dir(self, name: str, *sections: str) -> Path:
        """Folder of a step's files: ``WD/steps/<name>-<settings hash>``
        (:func:`syconn.read.step_dir`, where readers find it too)."""
        return step_dir(self.wd, self.cfg, name, *sections)

    def unit_key(self) -> str:
        """The task's identity within its working directory (:func:`task_key`)."""
        return task_key(self)

    def db_task_id(self, *sections: str) -> str:
        """Completion key in ``task_runs``: :meth:`unit_key` plus the settings of its outputs
        (``dataset``, ``inputs``, ``glia``, ``cell_objects`` and ``sections``).  It holds no path,
        so a working directory that is moved, or reached by another path, stays complete."""
        h = settings_hash(self.cfg, "dataset", "inputs", "glia", "cell_objects", *sections)
        return f"{self.unit_key()}@{h}"

    def progress(self, done: int, total: int, what: str = "") -> None:
        """Report progress to the Luigi scheduler (visible in luigid and `syconn run`)."""
        try:
            self.set_progress_percentage(int(100 * done / max(total, 1)))
            self.set_status_message(f"{what} {done}/{total}")
        except Exception:  # noqa: BLE001  no scheduler attached (direct calls in tests)
            pass



def threads_per_worker(n: int = 1) -> None:
    """Cap BLAS/numba threads per worker process (STYLE 9)."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    try:
        import numba
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    except (ImportError, ValueError):
        pass

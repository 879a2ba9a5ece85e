"""The whole pipeline as one Luigi wrapper task."""

from __future__ import annotations

import luigi

from syconn.config import load_config
from syconn.tasks.base import WorkingDirParameter
from syconn.tasks.celltypes import CellTypes
from syconn.tasks.compartments import Compartments
from syconn.tasks.matrix import MatrixExport
from syconn.tasks.morphology import Morphology
from syconn.tasks.organelles import KINDS, Organelles
from syconn.tasks.spines import Spines
from syconn.tasks.supervoxels import Cells

__all__ = ["Pipeline"]


class Pipeline(luigi.WrapperTask):
    """Everything: ``luigi --module syconn.tasks Pipeline --working-dir WD``."""

    working_dir = WorkingDirParameter(description="syconn working directory")

    def requires(self):
        yield Cells(working_dir=self.working_dir)
        for kind in KINDS:
            yield Organelles(working_dir=self.working_dir, kind=kind)
        yield MatrixExport(working_dir=self.working_dir)
        yield Morphology(working_dir=self.working_dir)
        cfg = load_config(self.working_dir)
        if cfg.compartments.enabled:
            yield Compartments(working_dir=self.working_dir)
            if cfg.celltypes.enabled:  # reads the compartments
                yield CellTypes(working_dir=self.working_dir)
            if cfg.spines.enabled:  # the post side is the compartments'
                yield Spines(working_dir=self.working_dir)

"""Cell types (SyConn step 7, cell type analysis): every cell with enough skeleton typed.

``CellTypes`` reads what the pipeline stored about each cell (:mod:`syconn.celltypes`: its
``cells`` row, skeleton with node compartments, boutons, synapses above the threshold), types
every cell with at least the model's cable floor (``celltypes.min_cable_um`` or the card's)
with the cell type model (:mod:`syconn.ml.celltypes`) and writes ``cells.cell_type``,
``cell_type_certainty``, ``cell_type_status`` and ``cell_type_probabilities``.  Off with
``celltypes.enabled: false``.
"""

from __future__ import annotations

from pathlib import Path

import luigi
import numpy as np
import pyarrow as pa

from syconn.tasks.base import DBTarget, SyconnTask, WorkingDirParameter
from syconn.tasks.compartments import Compartments
from syconn.tasks.morphology import CellMorphology

__all__ = ["CellTypes", "CellTypeInputs", "celltype_model"]


def celltype_model(cfg, working_dir):
    """The cell type model the config names (relative to the working directory, or
    absolute), or the shipped one."""
    from syconn.ml.celltypes import load_celltype_model

    path = cfg.celltypes.model
    return load_celltype_model(Path(working_dir) / path if path else None)


class CellTypeInputs(luigi.WrapperTask):
    """What the cell type step reads, without the step (training volumes are processed this
    far before a model exists)."""

    working_dir = WorkingDirParameter(description="syconn working directory")

    def requires(self):
        yield CellMorphology(working_dir=self.working_dir)
        yield Compartments(working_dir=self.working_dir)


class CellTypes(SyconnTask):
    """Cell types, certainties and class probabilities -> SQL."""

    def requires(self):
        return CellTypeInputs(working_dir=self.working_dir)

    @property
    def model(self):
        if getattr(self, "_model", None) is None:
            self._model = celltype_model(self.cfg, self.working_dir)
        return self._model

    def db_task_id(self) -> str:
        return (f"{super().db_task_id('min_cc_size_ssv', 'skeleton', 'compartments', 'celltypes')}"
                f"+model-{self.model.digest[:8]}+comp-{self._compartment_digest()}")

    def _compartment_digest(self) -> str:
        from syconn.tasks.compartments import compartment_model

        return compartment_model(self.cfg, self.working_dir).digest[:8]

    def output(self):
        return DBTarget(self.working_dir, self.db_task_id())

    def run(self):
        from syconn.celltypes import cell_features, type_status
        from syconn.db import bulk_load_many, bulk_update
        from syconn.read import Results

        model = self.model
        floor = self.cfg.celltypes.min_cable_um
        floor = model.min_cable_um if floor is None else float(floor)
        res = Results(self.working_dir, self.cfg)
        ids, X, cable, skel = cell_features(res)
        status = type_status(skel, cable, floor)
        ok = status == "ok"
        cls, proba, cert = model.predict(X[ok])
        names = np.asarray(model.classes, object)
        cell_type = np.full(len(ids), None, object)
        certainty = np.full(len(ids), np.nan)
        cell_type[ok] = names[cls]
        certainty[ok] = cert
        n_cls = len(names)
        probs = pa.table({"cell_id": pa.array(np.repeat(ids[ok], n_cls), pa.int64()),
                          "cell_type": pa.array(np.tile(names, int(ok.sum())).tolist(),
                                                pa.string()),
                          "probability": pa.array(proba.ravel(), pa.float64())})
        upd = pa.table({"id": pa.array(ids, pa.int64()),
                        "cell_type": pa.array(cell_type.tolist(), pa.string()),
                        "cell_type_certainty": pa.array(
                            [None if np.isnan(c) else float(c) for c in certainty], pa.float64()),
                        "cell_type_status": pa.array(status.tolist(), pa.string())})
        bulk_load_many(self.engine, [("cell_type_probabilities", probs, "all")])
        bulk_update(self.engine, "cells", upd,
                    task={"task_id": self.db_task_id(), "task_family": "CellTypes"})
        self.progress(1, 1, f"{int(ok.sum())} of {len(ids)} cells typed")

"""Luigi tasks: ``luigi --module syconn.tasks Pipeline --working-dir WD``."""

from syconn.tasks.base import Block, block_grid
from syconn.tasks.celltypes import CellTypeInputs, CellTypes
from syconn.tasks.spines import SpineShard, Spines
from syconn.tasks.compartments import CompartmentShard, Compartments
from syconn.tasks.glia import Glia, GliaBlock
from syconn.tasks.matrix import MatrixExport
from syconn.tasks.morphology import (
    CellMorphology,
    Meshes,
    MeshBlock,
    MeshMerge,
    Morphology,
    SkeletonBlock,
    SkeletonMerge,
    Skeletons,
    SynapseMeshes,
)
from syconn.tasks.organelles import OrganelleBlock, OrganelleRelabel, Organelles, OrganelleStitch
from syconn.tasks.pipeline import Pipeline
from syconn.tasks.prepare import Prepare
from syconn.tasks.supervoxels import Cells, SupervoxelBlock, Supervoxels
from syconn.tasks.synapses import ContactBlock, SynapseFeatures, Synapses, SynapseShard

__all__ = ["Block", "block_grid", "Prepare", "SupervoxelBlock", "Supervoxels", "Cells",
           "OrganelleBlock", "OrganelleStitch", "OrganelleRelabel", "Organelles", "Pipeline",
           "ContactBlock", "SynapseShard", "SynapseFeatures", "Synapses", "MatrixExport", "MeshBlock", "MeshMerge", "Meshes",
           "SynapseMeshes", "SkeletonBlock", "SkeletonMerge", "Skeletons", "CellMorphology",
           "Morphology", "CompartmentShard", "Compartments", "CellTypeInputs", "CellTypes",
           "SpineShard", "Spines", "GliaBlock", "Glia"]

"""Cell types, compartments and the ground-truth connectivity rule of the synthetic tissue."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = [
    "Compartment",
    "CellType",
    "CELL_TYPES",
    "TYPE_NAMES",
    "CONNECTION_PROB",
    "connection_probability",
]


class Compartment(IntEnum):
    """Voxel and skeleton-node compartment codes (0 is background)."""

    BACKGROUND = 0
    DENDRITE = 1
    AXON = 2
    SOMA = 3
    SPINE_NECK = 4
    SPINE_HEAD = 5
    BOUTON = 6
    GLIA = 7


@dataclass(frozen=True)
class CellType:
    """Morphology parameters of one cell type (lengths in micrometres).

    ``sign`` is +1 for excitatory, -1 for inhibitory and 0 for glia.  ``n_dendrites`` and
    ``n_axons`` count the neurite branches that enter the volume (a range, inclusive).
    """

    name: str
    code: int
    sign: int
    is_glia: bool
    has_soma: bool
    n_dendrites: tuple[int, int]
    n_axons: tuple[int, int]
    dendrite_radius_um: tuple[float, float]  # (proximal, distal)
    dendrite_branch_per_um: float
    spines_per_um: float
    axon_radius_um: tuple[float, float]
    axon_branch_per_um: float
    bouton_interval_um: tuple[float, float]
    soma_radius_um: tuple[float, float]
    tortuosity: float  # 0 straight .. 1 very wiggly


CELL_TYPES: dict[str, CellType] = {
    t.name: t
    for t in [
        # excitatory projection neuron: thick tapering spiny dendrites, thin axon
        CellType("spiny", 1, +1, False, True, (2, 3), (1, 2), (0.9, 0.3), 0.06, 1.8,
                 (0.06, 0.1), 0.08, (1.2, 2.2), (3.0, 5.0), 0.25),
        # inhibitory interneuron: smooth dendrites, dense local axon with many boutons
        CellType("interneuron", 2, -1, False, True, (1, 2), (5, 8), (0.7, 0.3), 0.05, 0.0,
                 (0.07, 0.13), 0.45, (0.35, 0.65), (3.0, 4.5), 0.35),
        # inhibitory sparsely spiny neuron: highly branched thinner dendrites, few spines
        CellType("sparsely_spiny", 3, -1, False, True, (2, 4), (1, 2), (0.6, 0.25), 0.35, 0.3,
                 (0.06, 0.1), 0.12, (1.2, 2.2), (3.0, 4.0), 0.45),
        # excitatory afferent axon, soma far outside the volume
        CellType("afferent", 4, +1, False, False, (0, 0), (4, 8), (0.0, 0.0), 0.0, 0.0,
                 (0.06, 0.15), 0.25, (0.4, 0.8), (0.0, 0.0), 0.15),
        # astrocyte: many thin irregular processes, no synapses
        CellType("glia", 5, 0, True, True, (10, 16), (0, 0), (0.16, 0.05), 0.6, 0.0,
                 (0.0, 0.0), 0.0, (0.0, 0.0), (2.5, 3.5), 0.8),
    ]
}

TYPE_NAMES: tuple[str, ...] = tuple(CELL_TYPES)

# P(synapse | bouton of pre touches post) for pre (rows) x post (columns), in TYPE_NAMES order.
CONNECTION_PROB = np.array(
    [
        #  spiny interneuron sparsely afferent glia
        [0.60, 0.95, 0.70, 0.0, 0.0],  # spiny ->
        [0.95, 0.60, 0.85, 0.0, 0.0],  # interneuron ->
        [0.80, 0.85, 0.35, 0.0, 0.0],  # sparsely_spiny ->
        [0.95, 0.85, 0.75, 0.0, 0.0],  # afferent ->
        [0.00, 0.00, 0.00, 0.0, 0.0],  # glia ->
    ]
)


def connection_probability(pre_type: str, post_type: str) -> float:
    """Probability that a bouton of ``pre_type`` touching ``post_type`` forms a synapse."""
    return float(CONNECTION_PROB[TYPE_NAMES.index(pre_type), TYPE_NAMES.index(post_type)])

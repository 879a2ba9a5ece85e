"""Pure algorithms on numpy arrays: arrays in, arrays, dataclasses or Arrow tables out.

No database, Luigi or file access here (DESIGN.md, rooms).
"""

from syconn.proc.morphology import (
    MORPH_OPS,
    aniso_struct,
    apply_morph_ops,
    extract_objects,
    required_halo_vx,
)
from syconn.proc.objects import (
    OBJECT_STATS_SCHEMA,
    object_stats,
    merge_object_stats,
    overlap_counts,
)
from syconn.proc.stitch import (
    FIRST_VOXEL_SCHEMA,
    PAIR_SCHEMA,
    first_voxels,
    upper_face_slabs,
    face_pairs,
    resolve_global_ids,
    relabel,
    label_blockwise,
)
from syconn.proc.rag import (
    RAG_SCHEMA,
    rag_edges,
    merge_rag_edges,
    rag_halo_vx,
)
from syconn.proc.cells import (
    check_agglomeration,
    cells_from_agglomeration,
    assign_organelles,
)
from syconn.proc.contacts import (
    ContactResult,
    contact_halo_vx,
    find_contacts,
    merge_contact_stats,
    CONTACT_STATS_SCHEMA,
    SYN_VOXELS_SCHEMA,
)
from syconn.proc.synapses import (
    group_synapses,
    organelle_surface_points,
    organelle_proximity,
    synapse_direction,
    syn_prob_rule,
    SYNAPSES_SCHEMA,
    NO_ORGANELLE_DST_NM,
)
from syconn.proc.meshes import (
    Mesh,
    mesh_block,
    weld_meshes,
    smooth_mesh,
    merge_meshes,
    mesh_area_nm2,
    mesh_volume_nm3,
    boundary_edges,
)
from syconn.proc.skeletons import (
    Skeleton,
    TEASAR_PARAMS,
    skeleton_downsampling,
    skeletonize_block,
    merge_skeletons,
    skeleton_stats,
    skeleton_components,
)

__all__ = [
    "MORPH_OPS",
    "aniso_struct",
    "apply_morph_ops",
    "extract_objects",
    "required_halo_vx",
    "OBJECT_STATS_SCHEMA",
    "object_stats",
    "merge_object_stats",
    "overlap_counts",
    "FIRST_VOXEL_SCHEMA",
    "PAIR_SCHEMA",
    "first_voxels",
    "upper_face_slabs",
    "face_pairs",
    "resolve_global_ids",
    "relabel",
    "label_blockwise",
    "RAG_SCHEMA",
    "rag_edges",
    "merge_rag_edges",
    "rag_halo_vx",
    "check_agglomeration",
    "cells_from_agglomeration",
    "assign_organelles",
    "ContactResult",
    "contact_halo_vx",
    "find_contacts",
    "merge_contact_stats",
    "CONTACT_STATS_SCHEMA",
    "SYN_VOXELS_SCHEMA",
    "group_synapses",
    "organelle_surface_points",
    "organelle_proximity",
    "synapse_direction",
    "syn_prob_rule",
    "SYNAPSES_SCHEMA",
    "NO_ORGANELLE_DST_NM",
    "Mesh",
    "mesh_block",
    "weld_meshes",
    "smooth_mesh",
    "merge_meshes",
    "mesh_area_nm2",
    "mesh_volume_nm3",
    "boundary_edges",
    "Skeleton",
    "TEASAR_PARAMS",
    "skeleton_downsampling",
    "skeletonize_block",
    "merge_skeletons",
    "skeleton_stats",
    "skeleton_components",
]

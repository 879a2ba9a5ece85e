"""The SQL data model (SQLAlchemy Core): one definition for SQLite and PostgreSQL.

Conventions: ids are BIGINT; voxel coordinates are mag-1 integers in ``*_x, *_y, *_z``
columns; bounding boxes are ``bb_min_*`` (inclusive) and ``bb_max_*`` (exclusive); physical
values carry their unit in the column name (``area_um2``, ``*_nm``).  The schema changes only
through the Alembic migrations in ``syconn/db/migrations``; a test checks that migrating an empty
database gives exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = [
    "metadata",
    "dataset",
    "supervoxels",
    "organelles",
    "organelle_overlaps",
    "rag_edges",
    "cells",
    "contact_sites",
    "synapses",
    "task_runs",
    "ALL_TABLES",
]

metadata = MetaData()

#: ``synapses.direction_source`` (the same text in migration 0013)
DIRECTION_SOURCE_COMMENT = ("'vesicles' (the vesicle rule), 'compartments' (the partners' "
                            "compartments, the vesicle rule undecided or overruled), 'both' "
                            "(they agree); NULL: direction unknown")
CELL_TYPE_STATUS_COMMENT = ("'ok' (typed), 'too_small' (less skeleton cable than the cell type "
                            "model judges), 'no_skeleton'; NULL before the cell type step")


def _bbox() -> list[Column]:
    return [Column(f"bb_{m}_{a}", BigInteger, nullable=False)
            for m in ("min", "max") for a in "xyz"]


def _rep() -> list[Column]:
    return [Column(f"rep_{a}", BigInteger, nullable=False) for a in "xyz"]


dataset = Table(
    "dataset", metadata,
    Column("id", Integer, primary_key=True, comment="always 1: one dataset per database/schema"),
    Column("name", Text, nullable=False),
    Column("voxel_x_nm", Float, nullable=False),
    Column("voxel_y_nm", Float, nullable=False),
    Column("voxel_z_nm", Float, nullable=False),
    Column("shape_x", BigInteger, nullable=False),
    Column("shape_y", BigInteger, nullable=False),
    Column("shape_z", BigInteger, nullable=False),
    Column("block_x", Integer, nullable=False),
    Column("block_y", Integer, nullable=False),
    Column("block_z", Integer, nullable=False),
    Column("syconn_version", Text, nullable=False),
    Column("syn_prob_threshold", Float, comment="synapses above this count in connections"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    comment="dataset metadata: voxel size, extent, block grid",
)

supervoxels = Table(
    "supervoxels", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("size_vx", BigInteger, nullable=False),
    *_bbox(), *_rep(),
    Column("cell_id", BigInteger, index=True, comment="NULL until cells are built"),
    Column("mesh_area_um2", Float),
    Column("glia_proba", Float),
    comment="cell fragments of the input segmentation",
)

organelles = Table(
    "organelles", metadata,
    Column("kind", String(8), primary_key=True, comment="mi, vc or sj"),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("size_vx", BigInteger, nullable=False),
    *_bbox(), *_rep(),
    Column("cell_id", BigInteger, index=True, comment="assigned cell, NULL if none"),
    Column("cell_ratio", Float, comment="fraction of the organelle inside its cell"),
    Column("mesh_area_um2", Float),
    comment="mitochondria, vesicle clouds and synaptic junctions",
)

organelle_overlaps = Table(
    "organelle_overlaps", metadata,
    Column("kind", String(8), primary_key=True),
    Column("organelle_id", BigInteger, primary_key=True, autoincrement=False),
    Column("sv_id", BigInteger, primary_key=True, autoincrement=False, index=True),
    Column("n_vx", BigInteger, nullable=False),
    comment="voxels an organelle shares with a supervoxel",
)

rag_edges = Table(
    "rag_edges", metadata,
    Column("sv_a", BigInteger, primary_key=True, autoincrement=False, comment="sv_a < sv_b"),
    Column("sv_b", BigInteger, primary_key=True, autoincrement=False, index=True),
    Column("contact_vx", BigInteger, nullable=False),
    Column("in_agglomeration", Boolean, nullable=False),
    comment="region adjacency graph of supervoxels (directly or across the gap)",
)

cells = Table(
    "cells", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False,
           comment="smallest supervoxel id of the cell"),
    Column("size_vx", BigInteger, nullable=False),
    *_bbox(), *_rep(),
    Column("n_supervoxels", BigInteger, nullable=False),
    Column("n_mi", BigInteger), Column("n_vc", BigInteger), Column("n_sj", BigInteger),
    Column("is_glia", Boolean),
    Column("cell_type", Text),
    Column("cell_type_certainty", Float),
    Column("mesh_area_um2", Float),
    Column("volume_um3", Float),
    Column("cable_length_um", Float),
    Column("n_branch_points", BigInteger),
    Column("n_tips", BigInteger),
    # migration 0006: the outcome of the skeleton step
    Column("skeleton_status", Text,
           comment="'ok', 'too_small' (bounding-box diagonal below min_cc_size_ssv), 'empty' "
                   "(no skeleton path found); NULL before the skeleton step"),
    Column("n_skeleton_nodes", BigInteger),
    # migration 0014: why a cell has no type
    Column("cell_type_status", Text, comment=CELL_TYPE_STATUS_COMMENT),
    comment="agglomerated cells (connected components of the agglomeration graph)",
)

contact_sites = Table(
    "contact_sites", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("cell_a", BigInteger, nullable=False, index=True, comment="cell_a < cell_b"),
    Column("cell_b", BigInteger, nullable=False, index=True),
    Column("size_vx", BigInteger, nullable=False),
    *_bbox(), *_rep(),
    Column("sj_vx", BigInteger, nullable=False, comment="contact voxels with sj above threshold"),
    comment="contacts between two cells",
)

_SYN_FEATURES = [
    Column(f"{f}_{side}", BigInteger if f.startswith("n_") else Float)
    for side in ("pre", "post")
    for f in ("n_mi_objs", "n_mi_vxs", "min_dst_mi_nm", "n_vc_objs", "n_vc_vxs", "min_dst_vc_nm")
]

synapses = Table(
    "synapses", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("cell_pre", BigInteger, index=True, comment="presynaptic cell (vesicle side)"),
    Column("cell_post", BigInteger, index=True),
    Column("size_vx", BigInteger, nullable=False),
    Column("area_um2", Float, nullable=False),
    *_bbox(), *_rep(),
    Column("sym_prop", Float), Column("asym_prop", Float),
    Column("sym_ratio", Float, comment="sym / (sym + asym), -1 if neither"),
    Column("sign", SmallInteger, comment="-1 symmetric (inhibitory), +1 asymmetric"),
    Column("direction_confidence", Float),
    *_SYN_FEATURES,
    Column("syn_prob", Float),
    Column("comp_pre", SmallInteger), Column("comp_post", SmallInteger),
    Column("spiness_post", SmallInteger),
    Column("spinehead_vol_post_um3", Float),
    # migration 0003: the partners whatever the direction, and the pair's contact site
    Column("cell_a", BigInteger, comment="partner cells, cell_a < cell_b"),
    Column("cell_b", BigInteger),
    Column("contact_site_id", BigInteger, comment="contact_sites.id of the pair"),
    # migration 0008: classifier inputs the columns above do not hold
    Column("sj_share", Float,
           comment="largest share of one sj object's synapse voxels that this synapse holds"),
    Column("sj_overlap", Float,
           comment="largest share of one sj object's voxels that lie on this synapse"),
    Column("sj_prob_mean", Float, comment="mean sj probability (0-1) at the synapse's voxels"),
    Column("sj_prob_max", Float, comment="largest sj probability (0-1) at the synapse's voxels"),
    # migration 0009: where the synapse lies on its sj object
    Column("sj_centre_dist_nm", Float,
           comment="distance from the synapse's centre to its main sj object's box centre"),
    Column("sj_extent_nm", Float, comment="half the diagonal of the main sj object's box"),
    # migration 0010: the cleft against its bouton's other contacts on the same sj object
    Column("sj_prob_rival", Float, comment="sj_prob_mean over the largest of the presynaptic "
           "cell's synapses on the same main sj object"),
    # migration 0011: how thick each partner is near the synapse
    Column("radius_nm_pre", Float,
           comment="largest inscribed radius of the presynaptic cell within 600 nm"),
    Column("radius_nm_post", Float,
           comment="largest inscribed radius of the postsynaptic cell within 600 nm"),
    # migration 0013: which evidence set the direction
    Column("direction_source", Text, comment=DIRECTION_SOURCE_COMMENT),
    comment="synapses between cells, with partners, sign and probability",
)

cell_type_probabilities = Table(
    "cell_type_probabilities", metadata,
    Column("cell_id", BigInteger, primary_key=True, autoincrement=False),
    Column("cell_type", Text, primary_key=True, comment="a class of the cell type model"),
    Column("probability", Float, nullable=False,
           comment="the model's probability of the class (the classes of a cell sum to 1)"),
    comment="per typed cell and class of the cell type model: its probability",
)
cell_compartments = Table(
    "cell_compartments", metadata,
    Column("cell_id", BigInteger, primary_key=True, autoincrement=False),
    Column("compartment", SmallInteger, primary_key=True, autoincrement=False,
           comment="0 dendrite, 1 axon, 2 soma, 3 en-passant bouton, 4 terminal bouton"),
    Column("name", Text, nullable=False, comment="the compartment's name"),
    Column("cable_um", Float, nullable=False,
           comment="skeleton cable of the compartment (bridges left out)"),
    Column("n_nodes", BigInteger, nullable=False, comment="skeleton nodes"),
    Column("n_objects", BigInteger, nullable=False,
           comment="separate runs of the compartment along the skeleton (boutons: each one)"),
    Column("n_syn_in", BigInteger, nullable=False,
           comment="synapses above syn_prob_threshold with the cell postsynaptic here"),
    Column("n_syn_out", BigInteger, nullable=False,
           comment="synapses above syn_prob_threshold with the cell presynaptic here"),
    comment="per cell and compartment: cable, nodes, boutons, synapses in and out",
)

task_runs = Table(
    "task_runs", metadata,
    Column("task_id", Text, primary_key=True, comment="Luigi task id (or load key)"),
    Column("task_family", Text, nullable=False),
    Column("params", Text, comment="JSON"),
    Column("n_rows", BigInteger),
    Column("host", Text),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    comment="provenance: completed steps, written in the same transaction as their rows",
)

ALL_TABLES = [t.name for t in metadata.sorted_tables]

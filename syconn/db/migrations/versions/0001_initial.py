"""initial schema: dataset, supervoxels, organelles, overlaps, rag, cells, contact sites, synapses, task runs

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cells',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False, comment='smallest supervoxel id of the cell'),
    sa.Column('size_vx', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_z', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_z', sa.BigInteger(), nullable=False),
    sa.Column('rep_x', sa.BigInteger(), nullable=False),
    sa.Column('rep_y', sa.BigInteger(), nullable=False),
    sa.Column('rep_z', sa.BigInteger(), nullable=False),
    sa.Column('n_supervoxels', sa.BigInteger(), nullable=False),
    sa.Column('n_mi', sa.BigInteger(), nullable=True),
    sa.Column('n_vc', sa.BigInteger(), nullable=True),
    sa.Column('n_sj', sa.BigInteger(), nullable=True),
    sa.Column('is_glia', sa.Boolean(), nullable=True),
    sa.Column('cell_type', sa.Text(), nullable=True),
    sa.Column('cell_type_certainty', sa.Float(), nullable=True),
    sa.Column('mesh_area_um2', sa.Float(), nullable=True),
    sa.Column('volume_um3', sa.Float(), nullable=True),
    sa.Column('cable_length_um', sa.Float(), nullable=True),
    sa.Column('n_branch_points', sa.BigInteger(), nullable=True),
    sa.Column('n_tips', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    comment='agglomerated cells (connected components of the agglomeration graph)'
    )
    op.create_table('contact_sites',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('cell_a', sa.BigInteger(), nullable=False, comment='cell_a < cell_b'),
    sa.Column('cell_b', sa.BigInteger(), nullable=False),
    sa.Column('size_vx', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_z', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_z', sa.BigInteger(), nullable=False),
    sa.Column('rep_x', sa.BigInteger(), nullable=False),
    sa.Column('rep_y', sa.BigInteger(), nullable=False),
    sa.Column('rep_z', sa.BigInteger(), nullable=False),
    sa.Column('sj_vx', sa.BigInteger(), nullable=False, comment='contact voxels with sj above threshold'),
    sa.PrimaryKeyConstraint('id'),
    comment='contacts between two cells'
    )
    with op.batch_alter_table('contact_sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_sites_cell_a'), ['cell_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_sites_cell_b'), ['cell_b'], unique=False)

    op.create_table('dataset',
    sa.Column('id', sa.Integer(), nullable=False, comment='always 1: one dataset per database/schema'),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('voxel_x_nm', sa.Float(), nullable=False),
    sa.Column('voxel_y_nm', sa.Float(), nullable=False),
    sa.Column('voxel_z_nm', sa.Float(), nullable=False),
    sa.Column('shape_x', sa.BigInteger(), nullable=False),
    sa.Column('shape_y', sa.BigInteger(), nullable=False),
    sa.Column('shape_z', sa.BigInteger(), nullable=False),
    sa.Column('block_x', sa.Integer(), nullable=False),
    sa.Column('block_y', sa.Integer(), nullable=False),
    sa.Column('block_z', sa.Integer(), nullable=False),
    sa.Column('syconn_version', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    comment='dataset metadata: voxel size, extent, block grid'
    )
    op.create_table('organelle_overlaps',
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('organelle_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('sv_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('n_vx', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'organelle_id', 'sv_id'),
    comment='voxels an organelle shares with a supervoxel'
    )
    with op.batch_alter_table('organelle_overlaps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organelle_overlaps_sv_id'), ['sv_id'], unique=False)

    op.create_table('organelles',
    sa.Column('kind', sa.String(length=8), nullable=False, comment='mi, vc or sj'),
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('size_vx', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_z', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_z', sa.BigInteger(), nullable=False),
    sa.Column('rep_x', sa.BigInteger(), nullable=False),
    sa.Column('rep_y', sa.BigInteger(), nullable=False),
    sa.Column('rep_z', sa.BigInteger(), nullable=False),
    sa.Column('cell_id', sa.BigInteger(), nullable=True, comment='assigned cell, NULL if none'),
    sa.Column('cell_ratio', sa.Float(), nullable=True, comment='fraction of the organelle inside its cell'),
    sa.Column('mesh_area_um2', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('kind', 'id'),
    comment='mitochondria, vesicle clouds and synaptic junctions'
    )
    with op.batch_alter_table('organelles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organelles_cell_id'), ['cell_id'], unique=False)

    op.create_table('rag_edges',
    sa.Column('sv_a', sa.BigInteger(), autoincrement=False, nullable=False, comment='sv_a < sv_b'),
    sa.Column('sv_b', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('contact_vx', sa.BigInteger(), nullable=False),
    sa.Column('in_agglomeration', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('sv_a', 'sv_b'),
    comment='region adjacency graph of supervoxels (directly or across the gap)'
    )
    with op.batch_alter_table('rag_edges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rag_edges_sv_b'), ['sv_b'], unique=False)

    op.create_table('supervoxels',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('size_vx', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_z', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_z', sa.BigInteger(), nullable=False),
    sa.Column('rep_x', sa.BigInteger(), nullable=False),
    sa.Column('rep_y', sa.BigInteger(), nullable=False),
    sa.Column('rep_z', sa.BigInteger(), nullable=False),
    sa.Column('cell_id', sa.BigInteger(), nullable=True, comment='NULL until cells are built'),
    sa.Column('mesh_area_um2', sa.Float(), nullable=True),
    sa.Column('glia_proba', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    comment='cell fragments of the input segmentation'
    )
    with op.batch_alter_table('supervoxels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervoxels_cell_id'), ['cell_id'], unique=False)

    op.create_table('synapses',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('cell_pre', sa.BigInteger(), nullable=True, comment='presynaptic cell (vesicle side)'),
    sa.Column('cell_post', sa.BigInteger(), nullable=True),
    sa.Column('size_vx', sa.BigInteger(), nullable=False),
    sa.Column('area_um2', sa.Float(), nullable=False),
    sa.Column('bb_min_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_min_z', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_x', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_y', sa.BigInteger(), nullable=False),
    sa.Column('bb_max_z', sa.BigInteger(), nullable=False),
    sa.Column('rep_x', sa.BigInteger(), nullable=False),
    sa.Column('rep_y', sa.BigInteger(), nullable=False),
    sa.Column('rep_z', sa.BigInteger(), nullable=False),
    sa.Column('sym_prop', sa.Float(), nullable=True),
    sa.Column('asym_prop', sa.Float(), nullable=True),
    sa.Column('sym_ratio', sa.Float(), nullable=True, comment='sym / (sym + asym), -1 if neither'),
    sa.Column('sign', sa.SmallInteger(), nullable=True, comment='-1 symmetric (inhibitory), +1 asymmetric'),
    sa.Column('direction_confidence', sa.Float(), nullable=True),
    sa.Column('n_mi_objs_pre', sa.BigInteger(), nullable=True),
    sa.Column('n_mi_vxs_pre', sa.BigInteger(), nullable=True),
    sa.Column('min_dst_mi_nm_pre', sa.Float(), nullable=True),
    sa.Column('n_vc_objs_pre', sa.BigInteger(), nullable=True),
    sa.Column('n_vc_vxs_pre', sa.BigInteger(), nullable=True),
    sa.Column('min_dst_vc_nm_pre', sa.Float(), nullable=True),
    sa.Column('n_mi_objs_post', sa.BigInteger(), nullable=True),
    sa.Column('n_mi_vxs_post', sa.BigInteger(), nullable=True),
    sa.Column('min_dst_mi_nm_post', sa.Float(), nullable=True),
    sa.Column('n_vc_objs_post', sa.BigInteger(), nullable=True),
    sa.Column('n_vc_vxs_post', sa.BigInteger(), nullable=True),
    sa.Column('min_dst_vc_nm_post', sa.Float(), nullable=True),
    sa.Column('syn_prob', sa.Float(), nullable=True),
    sa.Column('comp_pre', sa.SmallInteger(), nullable=True),
    sa.Column('comp_post', sa.SmallInteger(), nullable=True),
    sa.Column('spiness_post', sa.SmallInteger(), nullable=True),
    sa.Column('spinehead_vol_post_um3', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    comment='synapses between cells, with partners, sign and probability'
    )
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_synapses_cell_post'), ['cell_post'], unique=False)
        batch_op.create_index(batch_op.f('ix_synapses_cell_pre'), ['cell_pre'], unique=False)

    op.create_table('task_runs',
    sa.Column('task_id', sa.Text(), nullable=False, comment='Luigi task id (or load key)'),
    sa.Column('task_family', sa.Text(), nullable=False),
    sa.Column('params', sa.Text(), nullable=True, comment='JSON'),
    sa.Column('n_rows', sa.BigInteger(), nullable=True),
    sa.Column('host', sa.Text(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('task_id'),
    comment='provenance: completed steps, written in the same transaction as their rows'
    )


def downgrade() -> None:
    op.drop_table('task_runs')
    with op.batch_alter_table('synapses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_synapses_cell_pre'))
        batch_op.drop_index(batch_op.f('ix_synapses_cell_post'))

    op.drop_table('synapses')
    with op.batch_alter_table('supervoxels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervoxels_cell_id'))

    op.drop_table('supervoxels')
    with op.batch_alter_table('rag_edges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rag_edges_sv_b'))

    op.drop_table('rag_edges')
    with op.batch_alter_table('organelles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organelles_cell_id'))

    op.drop_table('organelles')
    with op.batch_alter_table('organelle_overlaps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organelle_overlaps_sv_id'))

    op.drop_table('organelle_overlaps')
    op.drop_table('dataset')
    with op.batch_alter_table('contact_sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_sites_cell_b'))
        batch_op.drop_index(batch_op.f('ix_contact_sites_cell_a'))

    op.drop_table('contact_sites')
    op.drop_table('cells')

import math

import numpy as np
import pytest

from syconn.errors import InputError
from syconn.proc.meshes import (
    Mesh,
    boundary_edges,
    merge_meshes,
    mesh_area_nm2,
    mesh_block,
    mesh_voxel_set,
    mesh_volume_nm3,
    smooth_mesh,
    weld_meshes,
)

VS = (10.0, 10.0, 20.0)


def _sphere(r_nm, shape, label=3, vs=VS):
    x, y, z = np.ogrid[: shape[0], : shape[1], : shape[2]]
    c = (np.asarray(shape) - 1) / 2
    d2 = ((x - c[0]) * vs[0]) ** 2 + ((y - c[1]) * vs[1]) ** 2 + ((z - c[2]) * vs[2]) ** 2
    return (d2 < r_nm**2).astype(np.uint64) * label


@pytest.fixture(scope="module")
def sphere():
    shape = (208, 208, 108)                      # r = 1000 nm = 25 downsampled voxels of 40 nm
    return _sphere(1000.0, shape), shape


def _blockwise(lab, shape, block, ds=(4, 4, 2)):
    pieces = []
    for ox in range(0, shape[0], block[0]):
        for oy in range(0, shape[1], block[1]):
            for oz in range(0, shape[2], block[2]):
                sl = lab[ox: ox + block[0] + ds[0], oy: oy + block[1] + ds[1],
                         oz: oz + block[2] + ds[2]]
                core = np.minimum(block, np.asarray(shape) - [ox, oy, oz])
                got = mesh_block(sl, voxel_size_nm=VS, offset_xyz=(ox, oy, oz), downsampling=ds,
                                 core_shape_xyz=core, volume_shape_xyz=shape)
                pieces.extend(got.values())
    return pieces


def test_sphere_area_and_volume(sphere):
    lab, _ = sphere
    raw = mesh_block(lab, voxel_size_nm=VS)
    assert list(raw) == [3]
    m = merge_meshes([raw[3]])
    r = 1000.0
    assert len(boundary_edges(m)) == 0
    assert mesh_area_nm2(m) == pytest.approx(4 * math.pi * r**2, rel=0.03)
    assert mesh_volume_nm3(m) == pytest.approx(4 / 3 * math.pi * r**3, rel=0.02)
    # simplified: far fewer faces than raw marching cubes
    unsimplified = mesh_block(lab, voxel_size_nm=VS, simplification_factor=0)[3]
    assert m.n_faces < unsimplified.n_faces / 5
    # vertices in the global nm frame, centred on the sphere centre
    centre = (np.asarray(lab.shape) - 1) / 2 * VS
    assert np.abs(m.vertices.mean(axis=0) - centre).max() < 20


@pytest.mark.parametrize("block", [(104, 208, 108), (104, 104, 56), (64, 64, 32)])
def test_blockwise_sphere_is_welded(sphere, block):
    lab, shape = sphere
    pieces = _blockwise(lab, shape, block)
    assert len(pieces) >= 2
    assert all(len(boundary_edges(p)) > 0 for p in pieces)       # each piece is open at seams
    welded = weld_meshes(pieces)
    assert len(boundary_edges(welded)) == 0
    one = merge_meshes([mesh_block(lab, voxel_size_nm=VS)[3]])
    merged = merge_meshes(pieces)
    assert mesh_area_nm2(merged) == pytest.approx(mesh_area_nm2(one), rel=0.01)
    assert mesh_volume_nm3(merged) == pytest.approx(mesh_volume_nm3(one), rel=0.01)
    # block order does not matter
    again = weld_meshes(pieces[::-1])
    assert np.array_equal(again.vertices, welded.vertices)
    assert np.array_equal(again.faces, welded.faces)


def test_box_exact_without_simplification():
    lab = np.zeros((12, 10, 8), np.uint16)
    lab[2:8, 3:7, 2:5] = 9                                        # 6 x 4 x 3 voxels
    m = mesh_block(lab, voxel_size_nm=(1, 1, 1), downsampling=(1, 1, 1), simplification_factor=0)[9]
    assert len(boundary_edges(m)) == 0
    # marching cubes cuts the box at half voxels: 5 x 3 x 2 box with chamfered edges/corners
    lo, hi = m.vertices.min(axis=0), m.vertices.max(axis=0)
    assert lo.tolist() == [1.5, 2.5, 1.5] and hi.tolist() == [7.5, 6.5, 4.5]
    assert 0 < mesh_volume_nm3(m) < 6 * 4 * 3
    assert mesh_volume_nm3(m) > 0.8 * 6 * 4 * 3


def test_box_touching_volume_edge_is_closed_and_two_objects():
    lab = np.zeros((16, 16, 8), np.uint64)
    lab[:8, :, :] = 1                                             # touches 5 volume faces
    lab[10:14, 4:12, 2:6] = 2**40                                 # a 64-bit id
    got = mesh_block(lab, voxel_size_nm=(10, 10, 10), downsampling=(2, 2, 1))
    assert sorted(got) == [1, 2**40]
    for m in got.values():
        assert len(boundary_edges(m)) == 0 and mesh_volume_nm3(m) > 0
    only = mesh_block(lab, voxel_size_nm=(10, 10, 10), downsampling=(2, 2, 1), ids=[2**40])
    assert list(only) == [2**40]


def test_weld_drops_duplicates_and_degenerates():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], np.float32)
    a = Mesh(v[:3], [[0, 1, 2]])
    b = Mesh(v[[1, 3, 2, 2]], [[0, 1, 2], [0, 2, 3]])              # second face degenerate
    c = Mesh(v[:3], [[1, 2, 0]])                                  # same face, rotated
    w = weld_meshes([a, b, c])
    assert w.n_vertices == 4 and w.n_faces == 2
    assert mesh_area_nm2(w) == pytest.approx(1.0)
    assert len(boundary_edges(w)) == 4


def test_smooth_keeps_boundary_fixed():
    v = np.array([[0, 0, 0], [2, 0, 0], [0, 2, 0], [2, 2, 0], [1, 1, 1]], np.float32)
    m = Mesh(v, [[0, 1, 4], [1, 3, 4], [3, 2, 4], [2, 0, 4]])
    s = smooth_mesh(m, iterations=3)
    assert np.array_equal(s.vertices[:4], v[:4])
    assert s.vertices[4, 2] < 1


def test_errors_name_the_value():
    with pytest.raises(InputError, match="offset_xyz"):
        mesh_block(np.zeros((8, 8, 8), np.uint32), voxel_size_nm=VS, offset_xyz=(3, 0, 0))
    with pytest.raises(InputError, match="voxel_size_nm"):
        mesh_block(np.zeros((8, 8, 8), np.uint32), voxel_size_nm=(10, 0, 20))
    with pytest.raises(InputError, match="labels"):
        mesh_block(np.zeros((8, 8), np.uint32), voxel_size_nm=VS)
    with pytest.raises(InputError, match="core_shape_xyz"):
        mesh_block(np.zeros((12, 12, 12), np.uint32), voxel_size_nm=VS, core_shape_xyz=(6, 8, 8),
                   volume_shape_xyz=(64, 64, 64))
    with pytest.raises(InputError, match="faces"):
        Mesh(np.zeros((2, 3)), [[0, 1, 2]])


def test_empty_block():
    assert mesh_block(np.zeros((8, 8, 8), np.uint8), voxel_size_nm=VS) == {}
    assert weld_meshes([]).n_faces == 0
    assert mesh_area_nm2(Mesh.empty()) == 0.0


def test_missing_overlap_is_an_error():
    with pytest.raises(InputError, match="overlap"):
        mesh_block(np.zeros((64, 64, 32), np.uint32), voxel_size_nm=VS, core_shape_xyz=(64, 64, 32),
                   volume_shape_xyz=(128, 128, 64))


def test_voxel_set_mesh_keeps_a_one_voxel_sheet_at_an_odd_coordinate():
    # a cleft one voxel thick at x = 33: striding by 2 would miss it, max pooling keeps it
    yy, zz = np.meshgrid(np.arange(40, 80), np.arange(10, 30), indexing="ij")
    vox = np.c_[np.full(yy.size, 33), yy.ravel(), zz.ravel()]
    m = mesh_voxel_set(vox, voxel_size_nm=(10, 10, 20), downsampling=(2, 2, 1))
    assert len(boundary_edges(m)) == 0
    # two faces of 400 nm x 400 nm plus a thin rim
    assert mesh_area_nm2(m) / 1e6 == pytest.approx(0.32, rel=0.08)
    # centred on the pooled cell of voxels 32-33 (325 nm), 2 x 10 nm thick
    assert m.vertices[:, 0].min() == pytest.approx(315) and m.vertices[:, 0].max() == 335
    assert mesh_voxel_set(np.zeros((0, 3), int), voxel_size_nm=(10, 10, 20)).n_faces == 0

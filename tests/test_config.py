"""Config: SyConn's defaults, validation naming key and file, round trip."""


import pytest
import yaml

from syconn.config import (
    Config,
    config_from_dict,
    config_to_dict,
    default_schema_name,
    load_config,
    save_config,
)
from syconn.errors import ConfigError


def test_defaults_are_syconns():
    c = Config()
    co = c.cell_objects
    assert c.dataset.voxel_size_nm == (10.0, 10.0, 20.0)
    assert c.dataset.block_shape == (256, 256, 256)
    assert (co.probathresholds.mi, co.probathresholds.vc, co.probathresholds.sj) == (
        0.428571429, 0.285714286, 0.19047619)
    assert co.extract_morph_op.mi == ["binary_opening", "binary_closing"] + ["binary_erosion"] * 3
    assert co.extract_morph_op.sj == ["binary_opening", "binary_closing"]
    assert (co.min_seed_vx.mi, co.min_seed_vx.vc, co.min_seed_vx.sj) == (50, 10, 10)
    assert (co.min_obj_vx.mi, co.min_obj_vx.vc, co.min_obj_vx.sj, co.min_obj_vx.syn_ssv) == (
        500, 100, 100, 100)
    assert (co.lower_mapping_ratios.mi, co.lower_mapping_ratios.sj) == (0.5, 0.1)
    assert co.upper_mapping_ratios.sj == 0.9
    assert (co.sizethresholds.mi, co.sizethresholds.vc, co.sizethresholds.sj) == (2786, 1584, 498)
    assert co.cs_dilation == 2 and co.cs_gap_nm == 250
    # where syconn departs from SyConn on purpose (issue 13; syconn.proc.contacts):
    # a partner window that reaches across 3 slices in z, sj morphology that keeps thin clefts,
    # clefts of one cell pair that a small fragment cannot chain
    assert co.cs_filtersize == (13, 13, 9)
    assert (co.morph_struct.mi, co.morph_struct.vc, co.morph_struct.sj) == (
        "aniso", "aniso", "plane")
    assert co.cs_gap_large_nm == 150 and co.sj_spill_share == 0.2
    assert co.synapse_model == ""
    assert co.sym_thresh == 0.225 and co.thresh_synssv_proba == 0.5
    assert (co.max_vert_dist_nm.mi, co.max_vert_dist_nm.vc) == (1000, 500)
    assert c.min_cc_size_ssv == 5000
    assert c.meshes.meshing_props.max_simplification_error == 40
    assert c.meshes.meshing_props.simplification_factor == 50
    assert c.meshes.downsampling.sv == (4, 4, 2)
    assert c.skeleton.kimimaro_merge.dust_threshold == 250
    assert c.skeleton.kimimaro_skelgen.dust_threshold == 1000


def test_round_trip_and_partial_merge(tmp_path):
    c = config_from_dict({"cell_objects": {"probathresholds": {"mi": 0.3}},
                          "dataset": {"voxel_size_nm": [20, 20, 40]}})
    assert c.cell_objects.probathresholds.mi == 0.3
    assert c.cell_objects.probathresholds.vc == 0.285714286  # untouched default
    assert c.dataset.voxel_size_nm == (20.0, 20.0, 40.0)
    save_config(c, tmp_path)
    assert load_config(tmp_path) == c
    assert config_from_dict(config_to_dict(Config())) == Config()


def test_defaults_not_shared_between_instances():
    a, b = Config(), Config()
    a.cell_objects.extract_morph_op.mi.append("binary_dilation")
    assert b.cell_objects.extract_morph_op.mi[-1] == "binary_erosion"


@pytest.mark.parametrize("data, message", [
    ({"cell_objects": {"foo": 1}}, "unknown key 'cell_objects.foo'"),
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"dataset": {"voxel_size_nm": [0, 10, 20]}}, "dataset.voxel_size_nm = 0.0: must be > 0"),
    ({"dataset": {"voxel_size_nm": [10, 10]}}, "dataset.voxel_size_nm = [10, 10]: expected a list of 3"),
    ({"dataset": {"block_shape": [256, 256, "x"]}}, "dataset.block_shape"),
    ({"cell_objects": {"probathresholds": {"mi": 1.5}}},
     "cell_objects.probathresholds.mi = 1.5: must be <= 1"),
    ({"cell_objects": {"cs_dilation": 1.5}}, "cell_objects.cs_dilation = 1.5: expected int"),
    ({"cell_objects": {"cs_dilation": True}}, "cell_objects.cs_dilation = True: expected int"),
    ({"cell_objects": {"extract_morph_op": {"mi": ["binary_foo"]}}},
     "cell_objects.extract_morph_op.mi = 'binary_foo': allowed values"),
    ({"cell_objects": {"morph_struct": {"sj": "cube"}}},
     "cell_objects.morph_struct.sj = 'cube': allowed values are aniso, plane"),
    ({"cell_objects": {"cs_gap_large_nm": -1}}, "cell_objects.cs_gap_large_nm = -1.0: must be >= 0"),
    ({"cell_objects": {"synapse_model": 3}}, "cell_objects.synapse_model"),
    ({"meshes": {"meshing_props": {"normals": "yes"}}}, "meshes.meshing_props.normals"),
    ({"dataset": 3}, "dataset: expected a mapping"),
])
def test_bad_values_name_key_and_file(tmp_path, data, message):
    (tmp_path / "config.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path)
    text = str(ei.value)
    assert message in text
    assert str(tmp_path / "config.yml") in text
    assert "\n" not in text


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="syconn init"):
        load_config(tmp_path)
    (tmp_path / "config.yml").write_text("dataset: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path)


def test_schema_name_is_stable_and_valid(tmp_path):
    a = default_schema_name(tmp_path / "My WD-1")
    assert a == default_schema_name(tmp_path / "My WD-1")
    assert a != default_schema_name(tmp_path / "other")
    assert a.startswith("wd_my_wd_1_") and len(a) <= 63


def test_block_shape_multiple_of_grid(tmp_path):
    (tmp_path / "config.yml").write_text("dataset: {block_shape: [100, 256, 256]}\n")
    with pytest.raises(ConfigError, match=r"block_shape = \[100, 256, 256\]: must be multiples of 16"):
        load_config(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("dataset: {voxel_size_nm: [.nan, 10, 20]}",
     "dataset.voxel_size_nm = nan: must be a finite number"),
    ("dataset: {voxel_size_nm: [10, .inf, 20]}",
     "dataset.voxel_size_nm = inf: must be a finite number"),
    ("dataset: {voxel_size_nm: [10, 10, 1.0e+9]}",
     "dataset.voxel_size_nm = 1000000000.0: must be <= 100000"),
    ("cell_objects: {cs_gap_nm: .nan}", "cell_objects.cs_gap_nm = nan: must be a finite number"),
    ("cell_objects: {probathresholds: {mi: -.inf}}",
     "cell_objects.probathresholds.mi = -inf: must be a finite number"),
    ("skeleton: {kimimaro_skelgen: {pdrf_scale: .inf}}",
     "skeleton.kimimaro_skelgen.pdrf_scale = inf: must be a finite number"),
    ("min_cc_size_ssv: .nan", "min_cc_size_ssv = nan: must be a finite number"),
])
def test_non_finite_and_huge_floats_rejected(tmp_path, text, message):
    (tmp_path / "config.yml").write_text(text + "\n")
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path)
    assert str(ei.value) == f"{tmp_path / 'config.yml'}: {message}"


def test_voxel_size_upper_bound_is_inclusive():
    assert config_from_dict({"dataset": {"voxel_size_nm": [100_000, 5, 5]}}).dataset.voxel_size_nm \
        == (100_000.0, 5.0, 5.0)
    with pytest.raises(ConfigError, match=r"voxel_size_nm = nan: must be a finite number"):
        config_from_dict({"dataset": {"voxel_size_nm": [float("nan"), 5, 5]}}, source="syconn init")

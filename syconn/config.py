"""Working-directory configuration: ``WD/config.yml``, typed, validated, SyConn's defaults.

Every algorithm setting has exactly one typed default here (the original's value from
``syconn/handler/config.yml`` and ``examples/start.py``); the CLI and the Luigi tasks read it from
here so defaults cannot drift.  ``load_config`` rejects unknown keys, wrong types and impossible
values with a :class:`~syconn.errors.ConfigError` that names the key and the file.

Example
-------
>>> cfg = Config()
>>> cfg.cell_objects.probathresholds.mi
0.428571429
>>> cfg.dataset.voxel_size_nm
(10.0, 10.0, 20.0)
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from syconn.errors import ConfigError

__all__ = [
    "Config",
    "DatasetConfig",
    "DatabaseConfig",
    "InputsConfig",
    "CellObjectsConfig",
    "MeshesConfig",
    "SkeletonConfig",
    "ViewsConfig",
    "ViewSetConfig",
    "CONFIG_NAME",
    "BLOCK_MULTIPLE_VX",
    "REP_LATTICE_VX",
    "load_config",
    "save_config",
    "config_from_dict",
    "config_to_dict",
    "default_schema_name",
]

CONFIG_NAME = "config.yml"
BLOCK_MULTIPLE_VX = 16  # block edges: multiples of 16 (Zarr chunking of the input copies)
REP_LATTICE_VX = 8  # representative voxels are chosen among the points of this global lattice
MORPH_OPS = ("binary_opening", "binary_closing", "binary_erosion", "binary_dilation")
STRUCTS = ("aniso", "plane")  # syconn.proc.morphology.STRUCTS

Vec3f = tuple[float, float, float]
Vec3i = tuple[int, int, int]


def _f(default: Any, *, doc: str = "", ge: float | None = None, gt: float | None = None,
       le: float | None = None, choices: tuple | None = None) -> Any:
    """A dataclass field with a default and value constraints kept in its metadata."""
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "choices": choices}
    if isinstance(default, (dict, list)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: _copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

@dataclass
class DatasetConfig:
    """Geometry of the dataset and of the block grid."""

    name: str = _f("syconn_dataset", doc="dataset name, used in exports")
    voxel_size_nm: Vec3f = _f((10.0, 10.0, 20.0), gt=0, le=100_000,
                              doc="voxel size (x, y, z) in nm, at most 100 µm")
    block_shape: Vec3i = _f((256, 256, 256), ge=16, doc="processing block (x, y, z) in voxels")


@dataclass
class DatabaseConfig:
    """Where attributes, synapses and the RAG live."""

    url: Optional[str] = _f(None, doc="SQLAlchemy URL; null = sqlite:///WD/syconn.sqlite")
    schema: Optional[str] = _f(None, doc="PostgreSQL schema for this working directory")
    readonly_url: Optional[str] = _f(
        None, doc="PostgreSQL: URL of the SELECT-only role that read-only sessions (syconn sql, "
                  "queries, exports, the server) use; set by syconn init when the writing user "
                  "may create roles, else by 'syconn db grant-readonly'")


@dataclass
class InputsConfig:
    """Input volume specs (anything :func:`syconn.io.open_volume` opens)."""

    seg: Optional[str] = _f(None, doc="cell supervoxel segmentation (unsigned integer)")
    mi: Optional[str] = _f(None, doc="mitochondria probability map (uint8)")
    vc: Optional[str] = _f(None, doc="vesicle cloud probability map (uint8)")
    sj: Optional[str] = _f(None, doc="synaptic junction probability map (uint8)")
    sym: Optional[str] = _f(None, doc="symmetric synapse type probability map (uint8)")
    asym: Optional[str] = _f(None, doc="asymmetric synapse type probability map (uint8)")
    raw: Optional[str] = _f(None, doc="raw EM (uint8)")
    agglomeration: Optional[str] = _f(None, doc="supervoxel edge list (plain, .bz2 or .csv)")


@dataclass
class OrganelleFloats:
    mi: float = 0.0
    vc: float = 0.0
    sj: float = 0.0


@dataclass
class OrganelleInts:
    mi: int = 0
    vc: int = 0
    sj: int = 0


@dataclass
class OrganelleOps:
    mi: list[str] = field(default_factory=list)
    vc: list[str] = field(default_factory=list)
    sj: list[str] = field(default_factory=list)


@dataclass
class OrganelleStructs:
    mi: str = _f("aniso", choices=STRUCTS)
    vc: str = _f("aniso", choices=STRUCTS)
    sj: str = _f("plane", choices=STRUCTS)


@dataclass
class MinObjVx:
    mi: int = _f(500, ge=1)
    vc: int = _f(100, ge=1)
    sj: int = _f(100, ge=1)
    sv: int = _f(1, ge=1)
    cs: int = _f(10, ge=1)
    syn: int = _f(10, ge=1)
    syn_ssv: int = _f(100, ge=1)


@dataclass
class MaxVertDistNm:
    mi: float = _f(1000.0, gt=0)
    vc: float = _f(500.0, gt=0)


def _probs(mi: float, vc: float, sj: float) -> OrganelleFloats:
    return OrganelleFloats(mi=mi, vc=vc, sj=sj)


@dataclass
class CellObjectsConfig:
    """Organelles, contact sites and synapses (SyConn ``cell_objects``)."""

    probathresholds: OrganelleFloats = _f(
        _probs(0.428571429, 0.285714286, 0.19047619), ge=0, le=1,
        doc="probability threshold (fraction of 255) per organelle map")
    # start.py's override of the packaged default (the example run is what users run).
    extract_morph_op: OrganelleOps = _f(OrganelleOps(
        mi=["binary_opening", "binary_closing", "binary_erosion", "binary_erosion",
            "binary_erosion"],
        vc=["binary_opening", "binary_closing", "binary_erosion"],
        sj=["binary_opening", "binary_closing"],
    ), choices=MORPH_OPS, doc="scipy.ndimage morphology ops applied before labelling")
    morph_struct: OrganelleStructs = _f(
        OrganelleStructs(), choices=STRUCTS,
        doc="structuring element of those ops: 'aniso' (SyConn's: in-plane diamond of radius "
            "vz//vx, +-1 slice) or 'plane' (in-plane 4-connected cross); sj uses 'plane' "
            "(also for the contact sj mask): SyConn's element erases sj bands thinner than "
            "itself (syconn.proc.contacts)")
    min_seed_vx: OrganelleInts = _f(OrganelleInts(mi=50, vc=10, sj=10), ge=1,
                                    doc="watershed seeds smaller than this are dropped")
    min_obj_vx: MinObjVx = _f(MinObjVx(), doc="objects smaller than this are dropped")
    lower_mapping_ratios: OrganelleFloats = _f(_probs(0.5, 0.5, 0.1), ge=0, le=1,
                                               doc="organelle kept by a cell if ratio > this")
    upper_mapping_ratios: OrganelleFloats = _f(_probs(1.0, 1.0, 0.9), ge=0, le=1,
                                               doc="and ratio <= this (when < 1)")
    sizethresholds: OrganelleInts = _f(OrganelleInts(mi=2786, vc=1584, sj=498), ge=0,
                                       doc="organelle assigned to a cell only above this size")
    cs_filtersize: Vec3i = _f((13, 13, 9), ge=1,
                              doc="contact partner search window (voxels); SyConn's 13 13 7 "
                                  "finds no partner across a 3-slice gap in z")
    cs_dilation: int = _f(2, ge=0, doc="contact site dilation iterations")
    cs_closing: int = _f(6, ge=0, doc="contact site closing iterations")
    cs_gap_nm: float = _f(250.0, ge=0, doc="synapse fragments closer than this are one synapse")
    sj_spill_share: float = _f(
        0.2, ge=0, le=1, doc="a synapse fragment on an sj object of which its cell pair holds "
                             "less than this share of the object's synapse voxels (another "
                             "pair's cleft spilling over) joins no other fragment (0: off, as "
                             "SyConn; such a fragment can chain two clefts into one)")
    cs_gap_large_nm: Optional[float] = _f(
        150.0, ge=0, doc="two fragments that are each a synapse on their own (>= "
                         "min_obj_vx.syn_ssv voxels) are joined only when closer than this "
                         "(null: whenever closer than cs_gap_nm, as SyConn; a small fragment "
                         "between two clefts then chains them into one)")
    max_vert_dist_nm: MaxVertDistNm = _f(MaxVertDistNm(), doc="organelle proximity radius")
    max_rep_coord_dist_nm: float = _f(4000.0, gt=0, doc="organelle candidate radius")
    thresh_synssv_proba: float = _f(0.5, ge=0, le=1, doc="synapse probability threshold")
    synapse_model: str = _f("", doc="synapse classifier file (syconn train synapses); empty: "
                                    "the one shipped with syconn")
    sym_thresh: float = _f(0.225, ge=0, le=1, doc="symmetric if sym/(sym+asym) > this")
    syntype_thresh: int = _f(123, ge=0, le=255, doc="sym/asym map voxel is set if >= this")
    rag_max_gap_vx: Vec3i = _f((2, 2, 2), ge=0,
                               doc="supervoxels this many background voxels apart are adjacent")


@dataclass
class MeshingProps:
    normals: bool = False
    simplification_factor: int = _f(50, ge=1)
    max_simplification_error: float = _f(40.0, ge=0, doc="nm")


@dataclass
class MeshDownsampling:
    sv: Vec3i = _f((4, 4, 2), ge=1)
    mi: Vec3i = _f((4, 4, 2), ge=1)
    vc: Vec3i = _f((4, 4, 2), ge=1)
    sj: Vec3i = _f((2, 2, 1), ge=1)


@dataclass
class MeshesConfig:
    downsampling: MeshDownsampling = _f(MeshDownsampling())
    mesh_min_obj_vx: int = _f(100, ge=0, doc="objects with fewer voxels get no mesh")
    meshing_props: MeshingProps = _f(MeshingProps())
    smoothing_iterations: int = _f(5, ge=0, doc="Taubin smoothing iterations after welding "
                                   "(not in the original: removes the marching-cubes staircase)")


@dataclass
class KimimaroMerge:
    dust_threshold: float = _f(250.0, ge=0, doc="nm")
    tick_threshold: float = _f(500.0, ge=0, doc="nm")


@dataclass
class KimimaroSkelgen:
    dust_threshold: int = _f(1000, ge=0, doc="voxels")
    scale: float = _f(2.0, gt=0, doc="TEASAR invalidation scale")
    const: float = _f(500.0, ge=0, doc="TEASAR invalidation constant (nm)")
    pdrf_scale: float = _f(100000.0, gt=0)
    pdrf_exponent: int = _f(4, ge=1)
    soma_detection_threshold: float = _f(1000.0, ge=0, doc="nm")
    soma_acceptance_threshold: float = _f(3000.0, ge=0, doc="nm")
    soma_invalidation_scale: float = _f(1.0, ge=0)
    soma_invalidation_const: float = _f(2000.0, ge=0, doc="nm")
    max_paths: int = _f(100, ge=1, doc="TEASAR paths per object and block")
    fix_branching: bool = True
    fill_holes: bool = True


@dataclass
class SkeletonConfig:
    kimimaro_merge: KimimaroMerge = _f(KimimaroMerge())
    kimimaro_skelgen: KimimaroSkelgen = _f(KimimaroSkelgen())
    downsample: int = _f(10, ge=1, doc="keep every n-th node along unbranched paths (1 = all)")
    bend_tolerance: Optional[float] = _f(
        None, gt=0, doc="also keep the nodes needed so that no edge passes farther than this "
                        "fraction of its length (or one step of the skeleton grid) from the "
                        "traced path it replaces (not in the original: every n-th node cuts "
                        "the bends of tortuous axons; 0.1 measured: better on bouton-rich "
                        "axons, worse pooled over the default example's seeds 0-2, see "
                        "docs/accuracy.md); null: every n-th node only, as SyConn")
    retract_tips: bool = _f(True, doc="move tips from the cell surface back to the centre of "
                                      "their end cap (not in the original, whose TEASAR paths "
                                      "end one radius beyond the neurite's axis)")
    block_shape: Vec3i = _f((768, 768, 512), ge=16,
                            doc="skeletonization cube (x, y, z) in voxels; TEASAR needs cubes much "
                                "wider than its invalidation radius.  The original's is "
                                "1024x1024x512; kimimaro takes about 25 bytes per downsampled "
                                "voxel, so that would need ~3.5 GB per worker, this ~2 GB")


@dataclass
class ViewSetConfig:
    """One kind of multi-view rendering (reference §3.3): image size, views per location and
    the view window (the clipping box is [window, window / 2, window] nm)."""

    size_px: tuple[int, int] = _f((256, 128), ge=1, le=8192, doc="image (width, height) in px")
    n_views: int = _f(2, ge=1, le=64, doc="views per location")
    window_nm: float = _f(8000.0, gt=0, doc="view window (comp_window); locations every third")


@dataclass
class ViewsConfig:
    """The original's view sets: glia (cell channel), spines, compartments (axoness)."""

    glia: ViewSetConfig = _f(ViewSetConfig())
    spines: ViewSetConfig = _f(ViewSetConfig())
    compartments: ViewSetConfig = _f(ViewSetConfig((1024, 512), 3, 40960.0))


@dataclass
class GliaConfig:
    """Glia separation (reference §1.4; here from per-supervoxel shape, organelle and brightness
    features, ``syconn.ml.glia``); needs the raw EM (``inputs.raw``)."""

    enabled: bool = _f(True, doc="classify every supervoxel (supervoxels.glia_proba), split glia "
                                 "from neurons before the cells are built (cells.is_glia); left "
                                 "out, with a warning, when inputs.raw is not set")
    model: str = _f("", doc="glia model file (syconn train glia); empty: the one shipped with "
                            "syconn")
    threshold: Optional[float] = _f(None, ge=0, le=1, doc="a supervoxel is glia from this "
                                                          "P(glia) on; null: the model card's")
    min_part_nm: Optional[float] = _f(None, ge=0, doc="the split's size rule (reference §1.4): "
                                                      "glia or neuron parts of a cell with a "
                                                      "smaller bounding-box diagonal (nm) follow "
                                                      "the rest; null: min_cc_size_ssv, as the "
                                                      "original; 0: the classifier alone")


@dataclass
class CompartmentsConfig:
    """Compartments of every skeleton node: dendrite, axon, soma, en-passant and terminal
    bouton (reference §1.10; here from skeleton features, ``syconn.ml.compartments``)."""

    enabled: bool = _f(True, doc="label skeleton nodes and fill synapses.comp_pre/comp_post "
                                 "and cell_compartments")
    model: str = _f("", doc="compartment model file (syconn train compartments); empty: the "
                            "one shipped with syconn")
    smooth_um: float | None = _f(None, ge=0, doc="average node probabilities over this radius "
                                                 "(um); null: the model card's")


@dataclass
class CellTypesConfig:
    """Cell types (reference §1.12; here from per-cell features, ``syconn.ml.celltypes``)."""

    enabled: bool = _f(True, doc="type every cell with enough skeleton cable: cells.cell_type, "
                                 "cell_type_certainty, cell_type_probabilities")
    model: str = _f("", doc="cell type model file (syconn train celltypes); empty: the one "
                            "shipped with syconn")
    min_cable_um: float | None = _f(None, ge=0, doc="cells with less skeleton cable (um) get no "
                                                    "type; null: the model card's")


@dataclass
class SpinesConfig:
    """Spines at synapses (reference §1.10; here from the postsynaptic cell's shape around each
    synapse, ``syconn.ml.spines``)."""

    enabled: bool = _f(True, doc="give every synapse of known direction the postsynaptic spine "
                                 "class (synapses.spiness_post) and, on a head, the head's "
                                 "volume (spinehead_vol_post_um3)")
    model: str = _f("", doc="spine model file (syconn train spines); empty: the one shipped "
                            "with syconn")


@dataclass
class Config:
    """The whole ``config.yml``."""

    dataset: DatasetConfig = _f(DatasetConfig())
    database: DatabaseConfig = _f(DatabaseConfig())
    inputs: InputsConfig = _f(InputsConfig())
    min_cc_size_ssv: float = _f(5000.0, ge=0, doc="cells with a smaller bbox diagonal (nm) dropped")
    cell_objects: CellObjectsConfig = _f(CellObjectsConfig())
    meshes: MeshesConfig = _f(MeshesConfig())
    skeleton: SkeletonConfig = _f(SkeletonConfig())
    views: ViewsConfig = _f(ViewsConfig())
    glia: GliaConfig = _f(GliaConfig())
    compartments: CompartmentsConfig = _f(CompartmentsConfig())
    celltypes: CellTypesConfig = _f(CellTypesConfig())
    spines: SpinesConfig = _f(SpinesConfig())

    def db_url(self, wd: Path | str) -> str:
        """The database URL of working directory ``wd`` (SQLite in ``wd`` by default)."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{Path(wd).resolve() / 'syconn.sqlite'}"


# --------------------------------------------------------------------------------------------
# Conversion and validation
# --------------------------------------------------------------------------------------------

def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {len(typing.get_args(tp))} numbers"
    if origin is list:
        return "a list of strings"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str, src: str) -> Any:
    """Convert a YAML value to the annotated type, or raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)

    def bad() -> ConfigError:
        return ConfigError(f"{src}: {key} = {value!r}: expected {_type_name(tp)}")

    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, src)
            except ConfigError:
                pass
        raise bad()
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{src}: {key}: expected a mapping, got {value!r}")
        return _build(tp, value, key + ".", src)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise bad()
        return tuple(_convert(v, a, key, src) for v, a in zip(value, args))
    if origin is list:
        (arg,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise bad()
        return [_convert(v, arg, key, src) for v in value]
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    raise TypeError(f"unsupported config type {tp!r} for {key}")  # a bug, not user input


def _check_constraints(value: Any, meta: typing.Mapping, key: str, src: str) -> None:
    if value is None:
        return
    if dataclasses.is_dataclass(value):
        # constraints on a section field apply to each member (e.g. all probabilities in [0, 1])
        for f in dataclasses.fields(value):
            merged = {k: (f.metadata.get(k) if f.metadata.get(k) is not None else meta.get(k))
                      for k in ("ge", "gt", "le", "choices")}
            _check_constraints(getattr(value, f.name), merged, f"{key}.{f.name}", src)
        return
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if meta.get("choices") is not None and v not in meta["choices"]:
            raise ConfigError(f"{src}: {key} = {v!r}: allowed values are "
                              f"{', '.join(map(str, meta['choices']))}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{src}: {key} = {v!r}: must be a finite number")
        if isinstance(v, (int, float)):
            if meta.get("ge") is not None and v < meta["ge"]:
                raise ConfigError(f"{src}: {key} = {v!r}: must be >= {meta['ge']}")
            if meta.get("gt") is not None and v <= meta["gt"]:
                raise ConfigError(f"{src}: {key} = {v!r}: must be > {meta['gt']}")
            if meta.get("le") is not None and v > meta["le"]:
                raise ConfigError(f"{src}: {key} = {v!r}: must be <= {meta['le']}")


def _build(cls: type, data: dict, prefix: str, src: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{src}: unknown key '{prefix}{unknown[0]}' "
                          f"(known keys: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in data.items():
        key = prefix + name
        if dataclasses.is_dataclass(hints[name]) and isinstance(value, dict):
            # merge a partial section onto its defaults
            base = config_to_dict(fields[name].default_factory()) if \
                fields[name].default_factory is not dataclasses.MISSING else {}
            value = {**base, **value}
        converted = _convert(value, hints[name], key, src)
        _check_constraints(converted, fields[name].metadata, key, src)
        kwargs[name] = converted
    return cls(**kwargs)


def config_from_dict(data: dict | None, *, source: str = CONFIG_NAME) -> Config:
    """Build a :class:`Config` from a (partial) nested dict; missing keys take the defaults."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    cfg = _build(Config, data, "", source)
    for key, shape in (("dataset.block_shape", cfg.dataset.block_shape),
                       ("skeleton.block_shape", cfg.skeleton.block_shape)):
        if any(v % BLOCK_MULTIPLE_VX for v in shape):
            raise ConfigError(f"{source}: {key} = {list(shape)}: must be multiples of "
                              f"{BLOCK_MULTIPLE_VX} voxels (the chunk grid of the working "
                              f"directory's Zarr volumes)")
    return cfg


def config_to_dict(cfg: Any) -> dict:
    """Plain nested dict (tuples as lists) suitable for YAML."""
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v
    return plain(cfg)


def load_config(wd: Path | str) -> Config:
    """Read and validate ``WD/config.yml``."""
    path = Path(wd) / CONFIG_NAME
    if not path.is_file():
        from syconn.errors import VolumeNotFound  # same FileNotFoundError family
        raise VolumeNotFound(f"{path}: no such file; create the working directory with "
                             f"'syconn init {wd}'")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return config_from_dict(data, source=str(path))


def save_config(cfg: Config, wd: Path | str) -> Path:
    """Write ``WD/config.yml`` atomically (temp file + rename)."""
    path = Path(wd) / CONFIG_NAME
    text = ("# syconn working-directory configuration. Defaults follow SyConn's config.yml and\n"
            "# examples/start.py; edit values, unknown keys are an error.\n")
    text += yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def default_schema_name(wd: Path | str) -> str:
    """A PostgreSQL schema name unique to the working directory's absolute path."""
    p = Path(wd).resolve()
    stem = re.sub(r"[^a-z0-9_]", "_", p.name.lower())[:40] or "wd"
    digest = hashlib.sha1(str(p).encode()).hexdigest()[:8]
    return f"wd_{stem}_{digest}"

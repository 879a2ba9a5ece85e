"""Working directories: create one from inputs (validated first), open its database.

``init_workdir`` checks everything before it writes anything: the volumes open, the
segmentation is an unsigned integer array, every probability map is uint8 with the
segmentation's shape, the voxel size is known and positive, the database answers.  If a later
step fails (the migration, say), a working directory it created is removed again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from sqlalchemy import Engine, delete

from syconn import __version__
from syconn.config import (
    CONFIG_NAME,
    Config,
    config_from_dict,
    config_to_dict,
    default_schema_name,
    load_config,
    save_config,
)
from syconn.db import check_connection, is_postgres, make_engine, upgrade
from syconn.db import tables as T
from syconn.errors import ConfigError, InputError, VolumeNotFound
from syconn.io import open_volume

__all__ = ["InputSummary", "validate_inputs", "init_workdir", "init_from_synth", "open_engine",
           "read_synth_meta",
           "PROB_KINDS", "SYNTH_META"]

PROB_KINDS = ("mi", "vc", "sj", "sym", "asym")
SYNTH_META = "synth.json"
_REQUIRED = ("seg", "mi", "vc", "sj")


@dataclass(frozen=True)
class InputSummary:
    """What validation learnt about the inputs."""

    shape_xyz: tuple[int, int, int]
    voxel_size_nm: tuple[float, float, float] | None  # from volume metadata, if any
    seg_dtype: str


def validate_inputs(inputs: Mapping[str, str | None], *,
                    required: Sequence[str] = _REQUIRED) -> InputSummary:
    """Open every input volume and check dtypes and shapes; raise on the first problem."""
    missing = [k for k in required if not inputs.get(k)]
    if missing:
        raise InputError(f"missing input(s): {', '.join('--' + k for k in missing)}")
    seg_spec = inputs["seg"]
    with open_volume(seg_spec) as seg:
        if not np.issubdtype(seg.dtype, np.unsignedinteger):
            raise InputError(f"{seg.spec}: dtype {seg.dtype}, expected an unsigned integer "
                             f"segmentation (uint32 or uint64)")
        shape, voxel, sdt = seg.shape, seg.voxel_size_nm, str(seg.dtype)
        if hasattr(seg, "check"):
            seg.check()  # KNOSSOS: every overlay cube is intact (reads zip directories only)
    for kind in PROB_KINDS + ("raw",):
        spec = inputs.get(kind)
        if not spec:
            continue
        with open_volume(spec) as vol:
            if vol.dtype != np.uint8:
                what = "raw EM" if kind == "raw" else "probabilities 0-255"
                raise InputError(f"{vol.spec}: dtype {vol.dtype}, expected uint8 {what} "
                                 f"({kind})")
            if vol.shape != shape:
                raise InputError(f"{vol.spec}: shape {vol.shape} differs from the "
                                 f"segmentation's {shape} ({kind} map)")
    agg = inputs.get("agglomeration")
    if agg and not Path(agg).is_file():
        raise VolumeNotFound(f"{agg}: agglomeration graph not found")
    return InputSummary(shape, voxel, sdt)


def read_synth_meta(folder: Path) -> dict:
    """Inputs and voxel size from a folder in the original's example layout.

    Uses ``synth.json`` (written by ``syconn synth``) when present; otherwise the file names
    ``raw.h5 seg.h5 mi.h5 vc.h5 sj.h5 sym.h5 asym.h5 neuron_rag.bz2``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VolumeNotFound(f"{folder}: no such directory")
    meta_path = folder / SYNTH_META
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            vols = {k: str(folder / v) for k, v in meta["volumes"].items()}
            agg = meta.get("agglomeration")
            voxel = tuple(float(v) for v in meta["voxel_size_nm"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{meta_path}: not a valid synth metadata file ({exc})") from None
        if agg:
            vols["agglomeration"] = str(folder / agg)
        return {"inputs": vols, "voxel_size_nm": voxel}
    vols = {}
    for kind in ("raw", "seg") + PROB_KINDS:
        p = folder / f"{kind}.h5"
        if p.is_file():
            vols[kind] = str(p)
    for name in ("neuron_rag.bz2", "rag.bz2"):
        if (folder / name).is_file():
            vols["agglomeration"] = str(folder / name)
            break
    if "seg" not in vols:
        raise VolumeNotFound(f"{folder}: no seg.h5 (expected the example layout raw.h5, seg.h5, "
                             f"mi.h5, vc.h5, sj.h5, sym.h5, asym.h5, neuron_rag.bz2)")
    return {"inputs": vols, "voxel_size_nm": None}


def init_from_synth(wd: Path | str, data: Path | str, *, block_shape: Sequence[int] | None = None,
                    db_url: str | None = None, name: str | None = None) -> Config:
    """Initialise ``wd`` over a folder in the original's example layout (``syconn synth``)."""
    meta = read_synth_meta(Path(data))
    return init_workdir(wd, inputs=meta["inputs"], voxel_size_nm=meta["voxel_size_nm"],
                        block_shape=block_shape, db_url=db_url, name=name)


def open_engine(wd: Path | str, cfg: Config | None = None, *, read_only: bool = False) -> Engine:
    """The database engine of working directory ``wd``."""
    cfg = cfg or load_config(wd)
    url = cfg.db_url(wd)
    return make_engine(url, schema=cfg.database.schema if is_postgres(url) else None,
                       read_only=read_only)


def init_workdir(wd: Path | str, *, inputs: Mapping[str, str | None] | None = None,
                 voxel_size_nm: Sequence[float] | None = None,
                 block_shape: Sequence[int] | None = None, db_url: str | None = None,
                 name: str | None = None, overrides: Mapping | None = None,
                 validate: bool = True, overwrite: bool = False) -> Config:
    """Create ``wd/config.yml`` and the database of a working directory.

    Parameters
    ----------
    wd
        Working directory (created; must not hold a config.yml unless ``overwrite``).
    inputs
        Volume specs by kind (seg, mi, vc, sj, sym, asym, raw) and ``agglomeration``.
    voxel_size_nm
        (x, y, z); falls back to the segmentation's own metadata (KNOSSOS conf, Zarr/HDF5 attrs).
    """
    wd = Path(wd)
    if (wd / CONFIG_NAME).exists() and not overwrite:
        raise ConfigError(f"{wd / CONFIG_NAME}: exists; this working directory is initialised "
                          f"(pass --overwrite to start over)")
    if wd.exists() and not wd.is_dir():
        raise InputError(f"{wd}: exists and is not a directory")
    data = config_to_dict(Config())
    if overrides:
        data = _merge(data, dict(overrides))
    inputs = {k: (str(v) if v is not None else None) for k, v in dict(inputs or {}).items()}
    summary = validate_inputs(inputs) if (validate and inputs) else None
    if voxel_size_nm is None and summary is not None:
        voxel_size_nm = summary.voxel_size_nm
    if voxel_size_nm is None:
        raise InputError("voxel size unknown: pass --voxel-size X Y Z (nm)")
    data["dataset"]["voxel_size_nm"] = [float(v) for v in voxel_size_nm]
    if block_shape is not None:
        data["dataset"]["block_shape"] = [int(v) for v in block_shape]
    if name:
        data["dataset"]["name"] = name
    data["inputs"].update({k: v for k, v in inputs.items() if k in data["inputs"]})
    unknown = sorted(set(inputs) - set(data["inputs"]))
    if unknown:
        raise InputError(f"unknown input kind(s): {', '.join(unknown)}")
    if db_url:
        data["database"]["url"] = db_url
    cfg = config_from_dict(data, source="syconn init")
    if is_postgres(cfg.db_url(wd)) and not cfg.database.schema:
        cfg.database.schema = default_schema_name(wd)

    engine = None
    created = not wd.exists()
    try:
        if is_postgres(cfg.db_url(wd)):
            engine = make_engine(cfg.db_url(wd), schema=cfg.database.schema)
            check_connection(engine)  # before anything is written
        wd.mkdir(parents=True, exist_ok=True)
        engine = engine or make_engine(cfg.db_url(wd))
        upgrade(engine, schema=cfg.database.schema)
        if summary is not None:
            _write_dataset_row(engine, cfg, summary.shape_xyz)
        save_config(cfg, wd)
    except BaseException:
        if created and wd.exists():
            shutil.rmtree(wd, ignore_errors=True)
        raise
    return cfg


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _write_dataset_row(engine: Engine, cfg: Config, shape_xyz) -> None:
    vs, bs = cfg.dataset.voxel_size_nm, cfg.dataset.block_shape
    row = dict(id=1, name=cfg.dataset.name,
               voxel_x_nm=vs[0], voxel_y_nm=vs[1], voxel_z_nm=vs[2],
               shape_x=shape_xyz[0], shape_y=shape_xyz[1], shape_z=shape_xyz[2],
               block_x=bs[0], block_y=bs[1], block_z=bs[2],
               syconn_version=__version__, created_at=dt.datetime.now(dt.timezone.utc),
               syn_prob_threshold=cfg.cell_objects.thresh_synssv_proba)
    with engine.begin() as conn:
        conn.execute(delete(T.dataset))
        conn.execute(T.dataset.insert().values(**row))

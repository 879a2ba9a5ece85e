"""Working directories: create one from inputs (validated first), open its database.

``init_workdir`` checks everything before it writes anything: the volumes open, the
segmentation is an unsigned integer array, every probability map is uint8 with the
segmentation's shape, the voxel size is known and positive, the database answers.  If a later
step fails (the migration, say), a working directory it created is removed again.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from sqlalchemy import Engine, delete
from sqlalchemy.engine import make_url

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
from syconn.db import check_connection, is_postgres, make_engine
from syconn.db import tables as T
from syconn.db.engine import create_database_if_missing, drop_database
from syconn.db.roles import provision_readonly_role
from syconn.db.store import migrate
from syconn.errors import ConfigError, DatabaseError, InputError, VolumeNotFound
from syconn.io import open_volume, read_agglomeration

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
                    required: Sequence[str] = _REQUIRED,
                    voxel_size_nm: Sequence[float] | None = None) -> InputSummary:
    """Open every input and check it; raise on the first problem, before anything is written.

    Parameters
    ----------
    inputs
        Volume specs by kind (seg, mi, vc, sj, sym, asym, raw) and ``agglomeration``.
    required
        Kinds that must be given.
    voxel_size_nm
        The voxel size (x, y, z) the user gave, if any; it must agree with the voxel size
        recorded in every volume that records one (and those must agree among themselves).

    Returns
    -------
    InputSummary
        The segmentation's shape, its recorded voxel size (None if it records none) and dtype.

    Raises
    ------
    InputError
        Wrong dtype or shape, contradicting voxel sizes, a malformed agglomeration graph.
    VolumeNotFound, VolumeFormatError
        A volume or the agglomeration graph is missing or unreadable.
    """
    missing = [k for k in required if not inputs.get(k)]
    if missing:
        raise InputError(f"missing input(s): {', '.join('--' + k for k in missing)}")
    seg_spec = inputs["seg"]
    with open_volume(seg_spec) as seg:
        if not np.issubdtype(seg.dtype, np.unsignedinteger):
            raise InputError(f"{seg.spec}: dtype {seg.dtype}, expected an unsigned integer "
                             f"segmentation (uint32 or uint64)")
        shape, voxel, sdt = seg.shape, seg.voxel_size_nm, str(seg.dtype)
        recorded = [(seg.spec, seg.voxel_size_nm)]
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
            recorded.append((vol.spec, vol.voxel_size_nm))
    _check_voxel_sizes(recorded, voxel_size_nm)
    agg = inputs.get("agglomeration")
    if agg:
        read_agglomeration(agg)  # parses, and checks every id fits a BIGINT
    return InputSummary(shape, voxel, sdt)


def _fmt_nm(voxel_size_nm: Sequence[float]) -> str:
    return " ".join(f"{float(v):g}" for v in voxel_size_nm) + " nm"


def _check_voxel_sizes(recorded: Sequence[tuple[str, Sequence[float] | None]],
                       given: Sequence[float] | None) -> None:
    """Raise if the voxel sizes recorded in volumes differ, or contradict ``given``."""
    def same(a, b) -> bool:
        return all(math.isclose(float(x), float(y), rel_tol=1e-6) for x, y in zip(a, b))

    recorded = [(spec, vs) for spec, vs in recorded if vs is not None]
    for spec, vs in recorded[1:]:
        first, first_vs = recorded[0]
        if not same(vs, first_vs):
            raise InputError(f"{spec}: records voxel size {_fmt_nm(vs)}, but {first} records "
                             f"{_fmt_nm(first_vs)}; correct the voxel size in the file that is "
                             f"wrong")
    # a non-finite or non-positive size is reported by the config check instead
    if given is not None and recorded and all(math.isfinite(v) and v > 0 for v in given):
        spec, vs = recorded[0]
        if not same(given, vs):
            raise InputError(f"--voxel-size {_fmt_nm(given)} contradicts the voxel size "
                             f"{_fmt_nm(vs)} recorded in {spec}; drop --voxel-size or correct "
                             f"the file")


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


def open_engine(wd: Path | str, cfg: Config | None = None, *, read_only: bool = False,
                pool_size: int | None = None) -> Engine:
    """The database engine of working directory ``wd``.

    ``read_only``: a session the database keeps from writing.  On PostgreSQL it connects as
    the SELECT-only role of ``database.readonly_url`` (checked at every connection); without
    one it is refused, never opened as the writing user.  ``pool_size``: keep that many
    connections for reuse (:func:`syconn.db.make_engine`; default: a new one per use).
    """
    cfg = cfg or load_config(wd)
    url = cfg.db_url(wd)
    if not is_postgres(url):
        return make_engine(url, read_only=read_only, pool_size=pool_size)
    if read_only:
        url = cfg.database.readonly_url
        if not url:
            raise DatabaseError(
                f"{Path(wd) / CONFIG_NAME}: no read-only database role for this PostgreSQL "
                f"working directory (database.readonly_url is not set), and a read-only "
                f"session never runs as the writing user; an administrator creates one with "
                f"'syconn db grant-readonly {wd} --role NAME'")
    return make_engine(url, schema=cfg.database.schema, read_only=read_only, pool_size=pool_size)


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
    # absolute paths: `syconn run` and workers on other nodes start from anywhere
    inputs = {k: (_absolute_spec(v, volume=k != "agglomeration") if v is not None else None)
              for k, v in dict(inputs or {}).items()}
    summary = (validate_inputs(inputs, voxel_size_nm=voxel_size_nm)
               if (validate and inputs) else None)
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
    url = cfg.db_url(wd)
    postgres = is_postgres(url)
    if postgres and not cfg.database.schema:
        cfg.database.schema = default_schema_name(wd)

    created_wd = not wd.exists()
    sqlite_file = None if postgres else Path(make_url(url).database)
    created_sqlite = sqlite_file is not None and not sqlite_file.exists()
    created_db = False
    try:
        if postgres:
            created_db = create_database_if_missing(url)
            engine = make_engine(url, schema=cfg.database.schema)
            check_connection(engine)  # before anything is written
        wd.mkdir(parents=True, exist_ok=True)
        if not postgres:
            engine = make_engine(url)
        # one transaction: schema, migrations, read-only role, dataset row; config.yml is
        # written last inside it, so a failure anywhere leaves none of them (DDL and CREATE
        # ROLE are transactional on PostgreSQL)
        with engine.begin() as conn:
            migrate(conn, schema=cfg.database.schema)
            if postgres:
                cfg.database.readonly_url = provision_readonly_role(
                    conn, url, cfg.database.schema, cfg.database.readonly_url)
            if summary is not None:
                _write_dataset_row(conn, cfg, summary.shape_xyz)
            save_config(cfg, wd)
    except BaseException:
        if created_wd and wd.exists():
            shutil.rmtree(wd, ignore_errors=True)
        elif created_sqlite:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
        if created_db:
            drop_database(url)
        raise
    return cfg


def _absolute_spec(spec, *, volume: bool = True) -> str:
    """``spec`` with its path made absolute (an HDF5 key or KNOSSOS channel kept)."""
    from syconn.io.volume import split_spec

    path, key = split_spec(spec) if volume else (Path(spec), None)
    out = os.path.abspath(os.path.expanduser(path))
    return f"{out}:{key}" if key else out


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _write_dataset_row(conn, cfg: Config, shape_xyz) -> None:
    vs, bs = cfg.dataset.voxel_size_nm, cfg.dataset.block_shape
    row = dict(id=1, name=cfg.dataset.name,
               voxel_x_nm=vs[0], voxel_y_nm=vs[1], voxel_z_nm=vs[2],
               shape_x=shape_xyz[0], shape_y=shape_xyz[1], shape_z=shape_xyz[2],
               block_x=bs[0], block_y=bs[1], block_z=bs[2],
               syconn_version=__version__, created_at=dt.datetime.now(dt.timezone.utc),
               syn_prob_threshold=cfg.cell_objects.thresh_synssv_proba)
    conn.execute(delete(T.dataset))
    conn.execute(T.dataset.insert().values(**row))


def upgrade_workdir(wd: Path | str) -> str:
    """``syconn db upgrade``: migrate the database of ``wd``; return the revision reached.

    On PostgreSQL the read-only role gets SELECT on new tables, and a working directory without
    one gets ``<schema>_ro`` where the writing user may create roles (config.yml records it).
    """
    from syconn.db import current_revision

    cfg = load_config(wd)
    url = cfg.db_url(wd)
    engine = open_engine(wd, cfg)
    check_connection(engine)
    with engine.begin() as conn:
        migrate(conn, schema=cfg.database.schema if is_postgres(url) else None)
        if is_postgres(url):
            ro = provision_readonly_role(conn, url, cfg.database.schema,
                                         cfg.database.readonly_url)
            if ro != cfg.database.readonly_url:
                cfg.database.readonly_url = ro
                save_config(cfg, wd)
    return current_revision(engine) or ""


def check_revision(wd: Path | str, cfg=None) -> None:
    """Refuse to run on a database that a different syconn made (one line: upgrade it)."""
    from syconn.db import current_revision, head_revision

    engine = open_engine(wd, cfg)
    check_connection(engine)
    rev, head = current_revision(engine) or "", head_revision()
    if rev != head:
        raise DatabaseError(f"{wd}: database at revision {rev or 'none'}, this syconn writes "
                            f"revision {head}; run 'syconn db upgrade {wd}' first")


def grant_readonly(wd: Path | str, role: str, *, password: str | None = None,
                   admin_url: str | None = None, readonly_url: str | None = None) -> str:
    """``syconn db grant-readonly``: give a PostgreSQL working directory a SELECT-only role.

    Creates ``role`` (LOGIN, no other attribute; as ``admin_url``'s user, default the working
    directory's own) with ``password`` (generated if None) unless it exists, grants it SELECT
    on the schema's tables and views now and after later migrations (as the writing user, who
    owns them), checks that a session with ``readonly_url`` (default: the working directory's
    URL with ``role`` and its password) is that role and cannot write, and records the URL as
    ``database.readonly_url`` in config.yml.  On any failure a role it created is dropped again
    and config.yml is unchanged.  Returns the URL (with its password).
    """
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from syconn.db.engine import error_reason, quote_ident, safe_url
    from syconn.db.roles import (
        create_login_role,
        drop_role,
        generate_password,
        grant_select,
        may_create_roles,
        revoke_select,
        role_exists,
        role_url,
    )

    cfg = load_config(wd)
    url = cfg.db_url(wd)
    if not is_postgres(url):
        raise InputError(f"{wd}: its database is SQLite ({url}), which read-only sessions open "
                         f"read-only already; grant-readonly is for PostgreSQL working "
                         f"directories")
    quote_ident(role)  # a one-line error for a name we would have to quote specially
    schema = cfg.database.schema
    owner = make_engine(url, schema=schema)
    check_connection(owner)
    admin = make_engine(admin_url) if admin_url else owner
    if admin_url:
        check_connection(admin)
    with owner.connect() as conn:
        exists = role_exists(conn, role)
        writer = conn.execute(text("SELECT current_user")).scalar()
    if role == writer:
        raise InputError(f"--role {role}: that is the writing user of {wd}; name another role")
    created = False
    try:
        if not exists or password is not None:
            password = password if (password is not None or exists) else generate_password()
            with admin.begin() as conn:
                if not may_create_roles(conn):
                    who = conn.execute(text("SELECT current_user")).scalar()
                    verb = "create" if not exists else "set the password of"
                    raise DatabaseError(
                        f"cannot {verb} role {role}: user {who} may not create roles "
                        f"(CREATEROLE); pass --admin-url of a user who may, or have an "
                        f"administrator run CREATE ROLE {role} LOGIN PASSWORD '...' and then "
                        f"'syconn db grant-readonly {wd} --role {role} --readonly-url URL'")
                created = create_login_role(conn, role, password)
        with owner.begin() as conn:
            grant_select(conn, schema, role)
        ro_url = readonly_url or role_url(url, role, password)
        ro = make_engine(ro_url, schema=schema, read_only=True)  # refuses a role that can write
        check_connection(ro)
        with ro.connect() as conn:
            user = conn.execute(text("SELECT current_user")).scalar()
        if user != role:
            raise InputError(f"--readonly-url {safe_url(ro_url)}: connects as {user}, "
                             f"not as {role}")
    except BaseException as exc:
        if created:
            with owner.begin() as conn:
                revoke_select(conn, schema, role)
            with admin.begin() as conn:
                drop_role(conn, role)
        if isinstance(exc, DBAPIError):
            raise DatabaseError(f"grant-readonly {role}: {error_reason(exc)}") from None
        raise
    cfg.database.readonly_url = ro_url
    save_config(cfg, wd)
    return ro_url

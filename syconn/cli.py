"""The ``syconn`` command line (typer).

Every ``SyconnError`` becomes one line on stderr and exit code 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from syconn.errors import SyconnError
from syconn.output import OutputFormat, print_rows

app = typer.Typer(
    name="syconn",
    help="Connectomics from volume EM: organelles, cells, synapses and the connectome in SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")

Vec3f = Optional[tuple[float, float, float]]
Vec3i = Optional[tuple[int, int, int]]
WD_ARG = typer.Argument(..., help="working directory")
FORMAT_OPT = typer.Option(OutputFormat.table, "--format", "-f", help="output format")


def _err(msg: str) -> None:
    typer.echo(f"syconn: error: {msg}", err=True)


@app.command()
def init(
    wd: Path = WD_ARG,
    from_dir: Optional[Path] = typer.Option(None, "--from", help="folder in the original's example "
                                            "layout (what 'syconn synth' writes)"),
    seg: Optional[str] = typer.Option(None, help="cell supervoxel segmentation (volume spec)"),
    mi: Optional[str] = typer.Option(None, help="mitochondria probability map"),
    vc: Optional[str] = typer.Option(None, help="vesicle cloud probability map"),
    sj: Optional[str] = typer.Option(None, help="synaptic junction probability map"),
    sym: Optional[str] = typer.Option(None, help="symmetric synapse type probability map"),
    asym: Optional[str] = typer.Option(None, help="asymmetric synapse type probability map"),
    raw: Optional[str] = typer.Option(None, help="raw EM"),
    agglomeration: Optional[Path] = typer.Option(None, help="supervoxel edge list (.bz2, .csv or "
                                                  "plain); none: every supervoxel is a cell"),
    voxel_size: Vec3f = typer.Option(None, "--voxel-size", help="voxel size X Y Z in nm"),
    block_size: Vec3i = typer.Option(None, "--block-size", help="block shape X Y Z in voxels"),
    db: Optional[str] = typer.Option(None, "--db", help="database URL (default: SQLite in WD)"),
    overwrite: bool = typer.Option(False, help="replace an existing config.yml"),
) -> None:
    """Create a working directory: validate the inputs, write config.yml, create the database."""
    from syconn.workdir import init_workdir, read_synth_meta

    inputs = {"seg": seg, "mi": mi, "vc": vc, "sj": sj, "sym": sym, "asym": asym, "raw": raw,
              "agglomeration": str(agglomeration) if agglomeration else None}
    if from_dir is not None:
        meta = read_synth_meta(from_dir)
        inputs = {**meta["inputs"], **{k: v for k, v in inputs.items() if v}}
        if voxel_size is None:
            voxel_size = meta["voxel_size_nm"]
    inputs = {k: v for k, v in inputs.items() if v}
    cfg = init_workdir(wd, inputs=inputs or None, voxel_size_nm=voxel_size,
                       block_shape=block_size, db_url=db, overwrite=overwrite)
    typer.echo(f"initialised {wd} (voxel size {cfg.dataset.voxel_size_nm} nm, "
               f"database {cfg.db_url(wd) if not cfg.database.url else 'from --db'})")


@db_app.command("upgrade")
def db_upgrade(wd: Path = WD_ARG) -> None:
    """Apply the database migrations of WD (creates the schema on PostgreSQL)."""
    from syconn.config import load_config
    from syconn.db import upgrade
    from syconn.workdir import open_engine

    cfg = load_config(wd)
    rev = upgrade(open_engine(wd, cfg), schema=cfg.database.schema)
    typer.echo(f"database of {wd} at revision {rev}")


@app.command()
def sql(
    wd: Path = WD_ARG,
    query: str = typer.Argument(..., help="one SQL statement (read-only)"),
    fmt: OutputFormat = FORMAT_OPT,
) -> None:
    """Run a read-only SQL query on WD's database (writes are refused by the database)."""
    from syconn.db import run_query
    from syconn.workdir import open_engine

    columns, rows = run_query(open_engine(wd, read_only=True), query)
    print_rows(columns, rows, fmt)


@app.command()
def run(
    wd: Path = WD_ARG,
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="parallel worker processes"),
    scheduler_host: Optional[str] = typer.Option(
        None, help="central luigid scheduler (several machines); default: local scheduler"),
    scheduler_port: int = typer.Option(8082, help="luigid port"),
) -> None:
    """Run (or resume) the whole pipeline of WD; a killed run continues where it stopped."""
    from syconn.runner import run_pipeline

    run_pipeline(wd, workers=workers, scheduler_host=scheduler_host,
                 scheduler_port=scheduler_port)


@app.command()
def example(
    wd: Path = typer.Argument(Path("syconn_example"), help="working directory to create"),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="parallel worker processes"),
    shape: Vec3i = typer.Option(None, "--shape", help="volume X Y Z in voxels (default: the "
                                "example's 576 576 288)"),
    seed: int = typer.Option(0, help="synthesis seed"),
    db: Optional[str] = typer.Option(None, "--db", help="database URL (default: SQLite in WD)"),
) -> None:
    """Synthesise the example dataset, run everything, print the connectome and its accuracy."""
    from syconn.example import run_example

    run_example(wd, workers=workers, shape_xyz=shape, seed=seed, db_url=db)


def _register_optional() -> None:
    """Commands whose modules may be missing in a partial checkout register themselves here."""
    try:
        from syconn.synth.command import synth_command
    except ImportError:
        return
    app.command("synth")(synth_command)


_register_optional()


def main() -> None:
    """Console entry point: ``syconn``."""
    try:
        app()
    except SyconnError as exc:
        _err(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        sys.exit(2)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

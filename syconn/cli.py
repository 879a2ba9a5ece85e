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
train_app = typer.Typer(help="Train the models syconn ships (synapse classifier, glia, "
                        "compartments, cell types, spines).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")

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
    if cfg.database.url and not cfg.database.readonly_url and cfg.database.schema:
        typer.echo(f"note: the database user may not create roles, so {wd} has no read-only "
                   f"role yet and 'syconn sql' refuses to run; an administrator creates one "
                   f"with 'syconn db grant-readonly {wd} --role NAME'", err=True)


@db_app.command("upgrade")
def db_upgrade(wd: Path = WD_ARG) -> None:
    """Apply the database migrations of WD (creates the schema on PostgreSQL)."""
    from syconn.workdir import upgrade_workdir

    rev = upgrade_workdir(wd)
    typer.echo(f"database of {wd} at revision {rev}")


@db_app.command("grant-readonly")
def db_grant_readonly(
    wd: Path = WD_ARG,
    role: str = typer.Option(..., "--role", help="name of the SELECT-only role (lower-case "
                             "letters, digits, underscores); created if it does not exist"),
    password: Optional[str] = typer.Option(
        None, "--password", help="the role's password (default: generated for a new role; an "
        "existing role keeps its own unless this is given)"),
    admin_url: Optional[str] = typer.Option(
        None, "--admin-url", help="connect as this user to create the role (needs CREATEROLE; "
        "default: the working directory's own URL)"),
    readonly_url: Optional[str] = typer.Option(
        None, "--readonly-url", help="URL read-only sessions use, e.g. without a password for "
        "~/.pgpass or with ?service=NAME (default: WD's URL with --role and its password)"),
) -> None:
    """PostgreSQL: create a SELECT-only role for WD; syconn sql (and the server) then run as it."""
    from syconn.db import safe_url
    from syconn.workdir import grant_readonly

    url = grant_readonly(wd, role, password=password, admin_url=admin_url,
                         readonly_url=readonly_url)
    typer.echo(f"read-only sessions of {wd} now connect as {role} ({safe_url(url)}); "
               f"recorded as database.readonly_url in {Path(wd) / 'config.yml'}")


@app.command()
def sql(
    wd: Path = WD_ARG,
    query: str = typer.Argument(..., help="one SQL statement (read-only)"),
    fmt: OutputFormat = FORMAT_OPT,
) -> None:
    """Run a read-only SQL query on WD's database (writes are refused by the database)."""
    from syconn.read import Results

    columns, rows = Results(wd).query(query)
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


@app.command("workers")
def workers_cmd(
    wd: Path = WD_ARG,
    scheduler_host: str = typer.Option(..., help="host of the central luigid scheduler"),
    scheduler_port: int = typer.Option(8082, help="luigid port"),
    workers: int = typer.Option(1, "--workers", "-j", min=1,
                                help="worker processes on this node"),
) -> None:
    """Work on WD's pipeline with a central luigid; start it on every node to share the work.

    Returns when the pipeline is complete (whoever ran the last task) or a task failed.
    """
    from syconn.runner import run_pipeline

    run_pipeline(wd, workers=workers, scheduler_host=scheduler_host,
                 scheduler_port=scheduler_port, keep_alive=True)


@app.command("slurm")
def slurm_cmd(
    wd: Path = WD_ARG,
    nodes: int = typer.Option(1, "--nodes", help="worker jobs (a job array), one node each"),
    workers_per_node: int = typer.Option(1, "--workers-per-node", "-j",
                                         help="worker processes (CPUs) per node"),
    partition: Optional[str] = typer.Option(None, help="SLURM partition (default: the "
                                            "cluster's)"),
    time_limit: Optional[str] = typer.Option(None, "--time", help="time limit of the scheduler "
                                             "and worker jobs, SLURM's format (e.g. 12:00:00)"),
    mem: Optional[str] = typer.Option(None, help="memory per worker node (e.g. 16G)"),
    gpus: int = typer.Option(0, help="GPUs per worker node (--gres=gpu:G): every task then "
                             "runs on GPU nodes"),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="return when the run has ended "
                              "(exit 2 unless the pipeline completed), or after submission"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the job scripts; submit and "
                                 "write nothing"),
) -> None:
    """Run WD's pipeline on SLURM: a luigid job, a worker job array, a cleanup job.

    The scripts and logs go to WD/slurm/; when every worker job has ended (completed or
    failed) the cleanup job cancels the scheduler job.
    """
    from syconn.slurm import SlurmOptions, launch

    launch(wd, SlurmOptions(nodes=nodes, workers_per_node=workers_per_node,
                            partition=partition, time=time_limit, mem=mem, gpus=gpus),
           wait=wait, dry_run=dry_run, log=typer.echo)


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


def _ro(wd: Path):
    """WD's read-only engine (the read side's)."""
    from syconn.read import Results

    return Results(wd).engine


@app.command()
def cells(
    wd: Path = WD_ARG,
    limit: int = typer.Option(50, min=1, help="at most this many rows (largest first)"),
    fmt: OutputFormat = FORMAT_OPT,
) -> None:
    """List cells (largest first) with size, synapse and organelle counts."""
    from syconn.db import run_query
    from syconn.db.queries import CELLS

    cols, rows = run_query(_ro(wd), CELLS, {"limit": limit})
    print_rows(cols, rows, fmt, title="cells")


@app.command()
def cell(
    wd: Path = WD_ARG,
    cell_id: int = typer.Argument(..., help="cell id (its smallest supervoxel id)"),
    fmt: OutputFormat = FORMAT_OPT,
) -> None:
    """One cell: its attributes, cell type (status, class probabilities), compartments (cable,
    synapses in and out), its partners out (it is presynaptic) and in, with their types, and
    its synapses summed by partner type."""
    from syconn.db import run_query
    from syconn.db.queries import (
        CELL, CELL_BY_PARTNER_TYPE, CELL_COMPARTMENTS, CELL_PARTNERS_IN, CELL_PARTNERS_OUT,
        CELL_TYPE,
    )
    from syconn.errors import InputError

    engine = _ro(wd)
    cols, rows = run_query(engine, CELL, {"id": cell_id})
    if not rows:
        raise InputError(f"cell {cell_id}: no such cell in {wd} (see 'syconn cells {wd}')")
    _, type_rows = run_query(engine, CELL_TYPE, {"id": cell_id})
    cols, attrs = list(cols) + ["cell_type_status"], list(rows[0]) + [type_rows[0][0]]
    probs = [(t, p) for _, t, p in type_rows if t is not None]
    comp_c, comp_r = run_query(engine, CELL_COMPARTMENTS, {"id": cell_id})
    out_c, out_r = run_query(engine, CELL_PARTNERS_OUT, {"id": cell_id})
    in_c, in_r = run_query(engine, CELL_PARTNERS_IN, {"id": cell_id})
    by_c, by_r = run_query(engine, CELL_BY_PARTNER_TYPE, {"id": cell_id})
    if fmt is OutputFormat.json:
        import json

        from syconn.output import _json_value

        def recs(c, r):
            return [dict(zip(c, map(_json_value, x))) for x in r]

        print(json.dumps({"cell": {c: _json_value(v) for c, v in zip(cols, attrs)},
                          "cell_type_probabilities": {t: p for t, p in probs},
                          "compartments": recs(comp_c, comp_r),
                          "partners_out": recs(out_c, out_r),
                          "partners_in": recs(in_c, in_r),
                          "by_partner_type": recs(by_c, by_r)}, indent=1))
        return
    print_rows(["attribute", "value"], list(zip(cols, attrs)), fmt, title=f"cell {cell_id}")
    if probs:
        print_rows(["cell_type", "probability"], probs, fmt,
                   title=f"cell {cell_id}: cell type probabilities")
    if comp_r:
        print_rows(comp_c, comp_r, fmt, title=f"cell {cell_id}: compartments")
    print_rows(out_c, out_r, fmt, title=f"cell {cell_id} -> partners (outgoing)")
    print_rows(in_c, in_r, fmt, title=f"partners -> cell {cell_id} (incoming)")
    if by_r:
        print_rows(by_c, by_r, fmt, title=f"cell {cell_id}: synapses by partner type")


@app.command()
def synapses(
    wd: Path = WD_ARG,
    pre: Optional[int] = typer.Option(None, help="presynaptic cell id"),
    post: Optional[int] = typer.Option(None, help="postsynaptic cell id"),
    min_prob: Optional[float] = typer.Option(None, "--min-prob", min=0, max=1,
                                             help="only syn_prob >= this"),
    sign: Optional[int] = typer.Option(None, help="+1 excitatory (asymmetric), -1 inhibitory"),
    limit: int = typer.Option(100, min=1, help="at most this many rows"),
    fmt: OutputFormat = FORMAT_OPT,
) -> None:
    """List synapses with partners, sign and probability, filtered."""
    from syconn.db import run_query
    from syconn.db.queries import synapses_query
    from syconn.errors import InputError

    if sign is not None and sign not in (-1, 1):
        raise InputError(f"--sign: got {sign}, expected 1 or -1")
    sql, params = synapses_query(pre=pre, post=post, min_prob=min_prob, sign=sign, limit=limit)
    cols, rows = run_query(_ro(wd), sql, params)
    print_rows(cols, rows, fmt, title="synapses")


@app.command()
def status(wd: Path = WD_ARG, fmt: OutputFormat = FORMAT_OPT) -> None:
    """Steps done and row counts of every table."""
    from syconn.db import run_query, table_counts
    from syconn.db.queries import STATUS

    engine = _ro(wd)
    cols, rows = run_query(engine, STATUS)
    print_rows(cols, rows, fmt, title=f"steps done in {wd}")
    counts = table_counts(engine)
    print_rows(["table", "rows"], sorted(counts.items()), fmt, title="tables")


@app.command()
def matrix(
    wd: Path = WD_ARG,
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="parallel worker processes"),
) -> None:
    """Write conn_mat.csv (the original's layout), a Parquet copy and a heatmap PNG."""
    from syconn.read import Results
    from syconn.runner import run_pipeline
    from syconn.tasks import MatrixExport

    run_pipeline(wd, workers=workers, task=MatrixExport(working_dir=str(wd)))
    for p in Results(wd).matrix_files():
        typer.echo(str(p))


@app.command("export")
def export_cmd(
    wd: Path = WD_ARG,
    fmt: str = typer.Argument(..., metavar="FORMAT", help="ply, obj, swc or neuroglancer"),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="destination folder (default WD/export/FORMAT; neuroglancer "
        "with --cells: WD/export/neuroglancer_cells_IDS); ply/obj/swc add their files to it, "
        "a neuroglancer folder is replaced as a whole"),
    cells: Optional[str] = typer.Option(None, "--cells",
                                        help="comma-separated cell ids (default: all cells)"),
    kind: str = typer.Option("cells", "--kind",
                             help="ply/obj: meshes of cells, mi, vc, sj or syn (synapses)"),
    volume: bool = typer.Option(False, "--volume/--no-volume",
                                help="neuroglancer: also write the cell label volume (raw uint64 "
                                     "chunks: 8 bytes per voxel)"),
) -> None:
    """Export meshes (ply, obj), skeletons (swc) or everything for Neuroglancer.

    ply/obj/swc exports add to their folder; a Neuroglancer folder is one dataset.
    """
    from syconn.errors import InputError
    from syconn.export import export

    ids = None
    if cells is not None:
        try:
            ids = [int(c) for c in cells.replace(" ", "").split(",") if c]
        except ValueError:
            raise InputError(f"--cells: got {cells!r}, expected comma-separated integer ids") \
                from None
    export(wd, fmt, out, cells=ids, kind=kind, volume=volume, log=typer.echo)


@app.command("views")
def views_cmd(
    wd: Path = WD_ARG,
    cell_id: int = typer.Argument(..., metavar="CELL", help="cell id"),
    view_set: str = typer.Option("spines", "--set",
                                 help="view set of config.yml: glia, spines or compartments"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="PNG to write (default WD/export/views/CELL_SET.png)"),
    locations: int = typer.Option(6, "--locations", min=1,
                                  help="locations shown (evenly spaced over the cell)"),
) -> None:
    """Render a cell's multi-view images (OpenGL, headless) and write them as one PNG."""
    from syconn.read import Results, export_dir
    from syconn.views import montage, render_cell, write_png

    res = Results(wd)
    v = render_cell(res, cell_id, view_set)
    angles = [f"view {k + 1}" for k in range(v.spec.n_views)]
    if v.spec.n_views == 2:
        angles = ["-25 deg", "+25 deg"]
    path = out or export_dir(wd) / "views" / f"{cell_id}_{view_set}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, montage(v.views, max_locations=locations),
              title=f"cell {cell_id}: {view_set} views, {len(v.locations)} locations, "
                    f"{v.spec.window_nm / 1000:g} um window",
              column_labels=[f"{c} {a}" for c in v.channels for a in angles])
    typer.echo(f"{path}: {min(locations, len(v.locations))} of {len(v.locations)} locations, "
               f"channels {', '.join(v.channels)}")


@app.command("server")
def server_cmd(
    wd: Path = WD_ARG,
    port: int = typer.Option(10001, "--port", min=1, max=65535,
                             help="port (the original's SyConnGate port)"),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="address to listen on; the default serves this machine "
                                  "only, 0.0.0.0 every network (the API has no login)"),
    allow_write: bool = typer.Option(False, "--allow-write",
                                     help="let push_so_attr write its few whitelisted "
                                          "attributes (synapse sign, cell type, glia flag)"),
    neuroglancer_url: Optional[str] = typer.Option(
        None, "--neuroglancer-url",
        help="the Neuroglancer the viewer's 'open in Neuroglancer' links open (default "
             "https://neuroglancer-demo.appspot.com; the link shows once 'syconn export WD "
             "neuroglancer' has run, the export is served at /precomputed/)"),
    prewarm_mb: float = typer.Option(
        64.0, "--prewarm-mb", min=0.0,
        help="at start, make the /ssv_mesh JSON of the largest cells, up to this many MB, in "
             "a background thread (0: none; the cache holds 256 MB)"),
) -> None:
    """Serve WD over HTTP: the original's KNOSSOS-plugin API (SyConnGate) and the viewer.

    Refuses a working directory whose synapses are not processed yet.
    """
    import gc

    import uvicorn

    from syconn.server import create_app

    application = create_app(wd, allow_write=allow_write, neuroglancer_url=neuroglancer_url,
                             prewarm_bytes=int(prewarm_mb * 2 ** 20))
    # what the imports and the app made lives as long as the server: out of the garbage
    # collector's sight, so that its full collections (some 100 ms over these objects, the
    # first one during the first requests) stay short
    gc.collect()
    gc.freeze()
    typer.echo(f"serving {wd} on http://{host}:{port}/ "
               f"({'writes allowed' if allow_write else 'read-only'}; Ctrl+C stops)")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@train_app.command("synapses")
def train_synapses_cmd(
    out: Path = typer.Argument(..., help="model file to write (.npz)"),
    wds: Optional[list[Path]] = typer.Argument(
        None, help="processed working directories to take labelled candidates from: the first "
        "ones labelled by --annotations (in order), the rest by their synthetic ground truth"),
    annotations: Optional[list[Path]] = typer.Option(
        None, "--annotations", help="CSV with x, y, z (voxels) and label synaptic/non-synaptic; "
        "each row labels the candidate nearest to it within 20 voxels (L1); repeat per WD"),
    synthetic: Optional[str] = typer.Option(
        None, "--synthetic", help="seeds of varied synthetic volumes to make and label, e.g. "
        "100-115 (syconn synth --variation)"),
    workdir: Path = typer.Option(Path("syconn_train"), "--workdir",
                                 help="where the synthetic volumes and their runs go"),
    size_um: float = typer.Option(5.0, "--size-um", min=1.0,
                                  help="edge of each synthetic volume (um)"),
    seed: int = typer.Option(0, help="seed of the forest and the folds"),
    trees: Optional[int] = typer.Option(None, "--trees", min=1, help="trees (default 300)"),
    min_leaf: Optional[int] = typer.Option(None, "--min-leaf", min=1,
                                           help="minimum candidates per leaf (default 2)"),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="parallel worker processes"),
) -> None:
    """Train the synapse classifier; prints a cross-validated report and writes the model."""
    from syconn.train import parse_seeds, train_synapses

    train_synapses(out, working_dirs=wds or [], annotations=annotations or [],
                   synthetic=parse_seeds(synthetic) if synthetic else [], workdir=workdir,
                   size_um=size_um, seed=seed, n_trees=trees, min_samples_leaf=min_leaf,
                   workers=workers, log=typer.echo)


@train_app.command("glia")
def train_glia_cmd(
    out: Path = typer.Argument(..., help="model file to write (.npz)"),
    synthetic: str = typer.Option(..., "--synthetic", help="seeds of the synthetic training "
                                  "volumes, e.g. 400-405 (syconn synth --variation "
                                  "--glia-merges 4, made in memory)"),
    validation: str = typer.Option(..., "--validation", help="seeds of the volumes that "
                                   "choose the P(glia) threshold (figures in the card)"),
    workdir: Path = typer.Option(Path("syconn_train"), "--workdir",
                                 help="where the volumes' samples are cached (WORKDIR/glia)"),
    size_um: float = typer.Option(6.0, "--size-um", min=1.0, help="edge of each volume (um)"),
    seed: int = typer.Option(0, help="seed of the forest"),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="parallel worker processes"),
) -> None:
    """Train the glia model (supervoxels: neuron or glia) from synthetic ground truth; writes
    the model."""
    from syconn.glia import train_glia
    from syconn.train import parse_seeds

    train_glia(out, synthetic=parse_seeds(synthetic), validation=parse_seeds(validation),
               workdir=workdir, size_um=size_um, seed=seed, workers=workers, log=typer.echo)


@train_app.command("compartments")
def train_compartments_cmd(
    out: Path = typer.Argument(..., help="model file to write (.npz)"),
    synthetic: str = typer.Option(..., "--synthetic", help="seeds of the synthetic training "
                                  "volumes, e.g. 800-803 (syconn synth --variation)"),
    validation: str = typer.Option(..., "--validation", help="seeds of the volumes that "
                                   "choose the smoothing radius (figures in the card)"),
    workdir: Path = typer.Option(Path("syconn_train"), "--workdir",
                                 help="where the synthetic volumes and their runs go"),
    size_um: float = typer.Option(6.0, "--size-um", min=1.0, help="edge of each volume (um)"),
    seed: int = typer.Option(0, help="seed of the forest"),
    trees: int = typer.Option(100, "--trees", min=1),
    min_leaf: int = typer.Option(5, "--min-leaf", min=1, help="minimum nodes per leaf"),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="parallel worker processes"),
) -> None:
    """Train the compartment model (skeleton nodes: dendrite, axon, soma, bouton) from
    synthetic ground truth; writes the model."""
    from syconn.compartments import train_compartments
    from syconn.train import parse_seeds

    train_compartments(out, synthetic=parse_seeds(synthetic),
                       validation=parse_seeds(validation), workdir=workdir, size_um=size_um,
                       seed=seed, n_trees=trees, min_samples_leaf=min_leaf, workers=workers,
                       log=typer.echo)


@train_app.command("spines")
def train_spines_cmd(
    out: Path = typer.Argument(..., help="model file to write (.npz)"),
    synthetic: str = typer.Option(..., "--synthetic", help="seeds of the synthetic training "
                                  "volumes, e.g. 840-845 (syconn synth --variation, made in "
                                  "memory)"),
    validation: str = typer.Option(..., "--validation", help="seeds of the volumes that "
                                   "choose the voting radius (figures in the card)"),
    size_um: float = typer.Option(4.0, "--size-um", min=1.0, help="edge of each volume (um)"),
    seed: int = typer.Option(0, help="seed of the forest"),
    trees: int = typer.Option(40, "--trees", min=1),
    min_leaf: int = typer.Option(20, "--min-leaf", min=1, help="minimum voxels per leaf"),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="parallel worker processes"),
) -> None:
    """Train the spine model (surface voxels of a postsynaptic cell: neck, head, shaft,
    other) from synthetic ground truth; writes the model."""
    from syconn.spines import train_spines
    from syconn.train import parse_seeds

    train_spines(out, synthetic=parse_seeds(synthetic), validation=parse_seeds(validation),
                 size_um=size_um, seed=seed, n_trees=trees, min_samples_leaf=min_leaf,
                 workers=workers, log=typer.echo)


@train_app.command("celltypes")
def train_celltypes_cmd(
    out: Path = typer.Argument(..., help="model file to write (.npz)"),
    synthetic: Optional[str] = typer.Option(None, "--synthetic", help="seeds of the synthetic "
                                            "training volumes, e.g. 900-903 (syconn synth "
                                            "--variation)"),
    validation: Optional[str] = typer.Option(None, "--validation", help="seeds of the volumes "
                                             "that choose the cable floor (with --synthetic)"),
    labels: Optional[Path] = typer.Option(None, "--labels", help="CSV of cell_id, cell_type "
                                          "(any class names) of cells of --wd"),
    wd: Optional[Path] = typer.Option(None, "--wd", help="processed working directory the "
                                      "--labels name cells of"),
    workdir: Path = typer.Option(Path("syconn_train"), "--workdir",
                                 help="where the synthetic volumes and their runs go"),
    size_um: float = typer.Option(6.0, "--size-um", min=1.0, help="edge of each volume (um)"),
    min_cable_um: float = typer.Option(0.0, "--min-cable-um", min=0.0, help="with --labels: "
                                       "cells with less skeleton cable get no type"),
    folds: int = typer.Option(5, "--folds", min=2, help="with --labels: cross-validation folds"),
    seed: int = typer.Option(0, help="seed of the forest"),
    trees: int = typer.Option(200, "--trees", min=1),
    min_leaf: int = typer.Option(2, "--min-leaf", min=1, help="minimum cells per leaf"),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="parallel worker processes"),
) -> None:
    """Train the cell type model: from synthetic ground truth (--synthetic, --validation) or
    from a user's labelled cells of a processed working directory (--labels, --wd; a
    cross-validated report is printed); writes the model."""
    from syconn.celltypes import train_celltypes, train_celltypes_from_labels
    from syconn.errors import InputError
    from syconn.train import parse_seeds

    if labels is not None:
        if synthetic or validation:
            raise InputError("--labels: give either --labels with --wd or --synthetic with "
                             "--validation, not both")
        if wd is None:
            raise InputError("--labels: name the processed working directory with --wd")
        train_celltypes_from_labels(out, wd, labels, folds=folds, seed=seed, n_trees=trees,
                                    min_samples_leaf=min_leaf, min_cable_um=min_cable_um,
                                    log=typer.echo)
        return
    if not synthetic or not validation:
        raise InputError("celltypes: give --synthetic and --validation seeds, or --labels "
                         "with --wd")
    train_celltypes(out, synthetic=parse_seeds(synthetic), validation=parse_seeds(validation),
                    workdir=workdir, size_um=size_um, seed=seed, n_trees=trees,
                    min_samples_leaf=min_leaf, workers=workers, log=typer.echo)


@app.command("model")
def model_cmd(
    path: Optional[Path] = typer.Argument(None, help="model file (default: the shipped one)"),
) -> None:
    """Print a synapse model's card: features, training data, cross-validated figures."""
    from syconn.train import model_summary

    typer.echo(model_summary(path))


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

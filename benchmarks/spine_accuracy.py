"""Spine accuracy on synthetic volumes the spine model never saw.

    python benchmarks/spine_accuracy.py [--model FILE] [--seeds 850-854] [--size-um 4]
                                        [--workers 2]

Each seed is a ``syconn synth --variation`` cube (its own voxel size, gap and maps), made in
memory.  Around every true synapse on a dendrite shaft, spine neck, spine head or soma the
post cell's mask (the generator's cells) is classified as the pipeline's ``SpineShard`` does
(:func:`syconn.spines.synapse_spine`), at the model card's voting radius.  Printed per seed
and pooled:

- per surface voxel of those boxes (the stand-in for mesh vertices): F1 of neck, head, shaft
  and other, and the macro-F1 over neck, head and shaft; truth: the generator's compartment
  volume (boxes overlap, so a voxel near two synapses counts twice);
- per synapse: the share whose spine class is the truth's (soma: other), and per true class;
- per synapse on a true head: the share whose head volume is within 25 % of the true head's
  (the post cell's 26-connected head voxels nearest the synapse); a synapse not called head
  counts as wrong.

The synapse locations and cells are the generator's, not the pipeline's: this scores the spine
model alone.  Default seeds 850-854 were used for nothing else (training 840-845, validation
846).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial


def _one(seed, size_um, model_path):
    from syconn.ml.spines import load_spine_model
    from syconn.spines import volume_samples

    model = load_spine_model(model_path)
    t0 = time.perf_counter()
    s = volume_samples(seed, size_um=size_um, model=model, radius_nm=model.card["radius_nm"])
    s["seconds"] = time.perf_counter() - t0
    return s


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def main(argv=None) -> int:
    from syconn.ml.spines import load_spine_model
    from syconn.spines import score_spines
    from syconn.train import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--seeds", default="850-854")
    ap.add_argument("--size-um", type=float, default=4.0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    model = load_spine_model(a.model)
    radius = model.card["radius_nm"]
    seeds = parse_seeds(a.seeds)
    print(f"model {model.digest} (radius {radius:g} nm), seeds {a.seeds}, {a.size_um:g} um cubes")
    with ProcessPoolExecutor(a.workers) as ex:
        samples = list(ex.map(partial(_one, size_um=a.size_um, model_path=a.model), seeds))
    hdr = ("| seed | voxel (nm) | voxels | neck F1 | head F1 | shaft F1 | other F1 | macro-F1 "
           "(n/h/s) | synapses | spine class right | on heads right | head volume within 25 % "
           "| seconds |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for s in samples + [None]:
        sc = score_spines(samples if s is None else [s], radius)
        f = sc["voxel_f1"]
        h = sc["synapse_accuracy_by_class"]["head"]
        name = "pooled" if s is None else str(s["seed"])
        vox = "" if s is None else "x".join(f"{v:g}" for v in s["voxel_size_nm"])
        secs = "" if s is None else f"{s['seconds']:.0f}"
        print(f"| {name} | {vox} | {sc['voxels']} | {f['neck']:.3f} | {f['head']:.3f} | "
              f"{f['shaft']:.3f} | {f['other']:.3f} | {sc['voxel_macro_f1']:.3f} | "
              f"{sc['synapses']} | {sc['synapse_accuracy']:.3f} | {h[0]}/{h[1]} | "
              f"{_fmt(sc['head_volume_within_25pct'])} | {secs} |")
    pooled = score_spines(samples, radius)
    print("per true class, right / all:", pooled["synapse_accuracy_by_class"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

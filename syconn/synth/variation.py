"""Per-volume variation of the synthetic tissue (``syconn synth --variation``).

The default example is one point of a space of tissues; a classifier trained or a rule tuned on
that point does not transfer.  :class:`Variation` names what a volume may vary in and
:meth:`Variation.draw` draws one per seed: the voxel size, the extracellular gap between cells,
axon, bouton and cleft sizes, the thickness, side and offset of the synaptic-junction (sj) band,
weak and strong maps, decoy sj blobs inside single cells and on non-synaptic contacts, and
per-voxel noise and blur of every probability map.  ``Variation()`` (all defaults) is the
default example's tissue, so ``syconn synth`` without ``--variation`` is unchanged.

Examples
--------
>>> v = Variation.draw(3)
>>> v == Variation.draw(3), v.gap_vx in (0, 1, 2, 3)
(True, True)
>>> Variation().is_default
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["Variation", "VOXEL_SIZES_NM"]

#: voxel sizes a varied volume draws from (x, y, z nm)
VOXEL_SIZES_NM = ((8.0, 8.0, 40.0), (10.0, 10.0, 20.0), (10.0, 10.0, 25.0), (8.0, 8.0, 30.0))
_STREAM = 0x5A7E  # second seed word: the variation's draws never touch the tissue's generator


@dataclass(frozen=True)
class Variation:
    """What one synthetic volume varies in (lengths in micrometres, map values in 0-255).

    Attributes
    ----------
    voxel_size_nm : (float, float, float) or None
        The drawn voxel size; ``None`` keeps the one asked for.
    gap_vx : int
        Background voxels between two cells (0: membranes touch; the default example has 1).
        The same number of voxels along every axis, so a gap of 3 is 60 nm in z at 20 nm slices.
    axon_radius_scale : float
        Factor on every cell type's axon radius range.
    bouton_radius_um, cleft_radius_um : (float, float)
        Ranges of bouton and synaptic-cleft radii.
    sj_half_width_um : float
        How far the sj band reaches into each cell from the membrane.
    sj_offset_um : float
        The band is shifted this far into the presynaptic cell (less of it on the
        postsynaptic side).
    sj_one_side_frac : float
        Share of synapses whose sj band lies only in the presynaptic cell and the gap.
    sj_blob_frac, sj_blob_sigma_um : float, (float, float)
        Share of synapses whose sj is not a band along the membranes but a Gaussian blob
        centred in the cleft, flattened along the contact normal (sigma ``sj_blob_sigma_um``
        across the cleft, 0.35-0.5 of the cleft radius along it), as a predictor's output can
        look; it does not stop at the membranes and can reach neighbouring contacts.
    sj_blob_spread : (float, float)
        Range of the blob's sigma across the cleft, as a share of the cleft radius.  The blob
        is painted out to 3 sigma, so a wide one spills onto the contacts of a third cell that
        passes beside the cleft (an axon squeezed past a bouton), and those contacts hold a
        large share of the sj object without being synapses.
    sj_peak, weak_peak : (float, float)
        Peak sj value of normal and weak synapses; ``weak_frac`` of them are weak.
    vc_peak : (float, float)
        Peak value of vesicle clouds at synapses.
    vc_radius_frac : (float, float) or None
        Radius of a synapse's vesicle cloud as a share of its bouton's radius (None: 0.68, and
        0.55 for the clouds of boutons without a synapse).
    decoy_blobs_per_synapse : float
        sj-like blobs inside single cells, per true synapse; values ``decoy_blob_val``.
    decoy_contacts_per_synapse : float
        sj bands painted on contacts between two cells that are not synapses (no vesicle cloud
        near), per true synapse; peak values ``decoy_contact_peak``.
    noise_sd : float
        Per-voxel Gaussian noise added to every probability map (mi, vc, sj, sym, asym).
    blur_nm : float
        Gaussian blur (sigma, nm) of every probability map, before the noise.
    smooth_noise_scale : float
        Factor on the amplitude of the smooth (250 nm) noise of every map.
    """

    voxel_size_nm: tuple[float, float, float] | None = None
    gap_vx: int = 1
    axon_radius_scale: float = 1.0
    bouton_radius_um: tuple[float, float] = (0.18, 0.3)
    cleft_radius_um: tuple[float, float] = (0.16, 0.3)
    sj_half_width_um: float = 0.06
    sj_offset_um: float = 0.0
    sj_one_side_frac: float = 0.0
    sj_blob_frac: float = 0.0
    sj_blob_sigma_um: tuple[float, float] = (0.02, 0.04)
    sj_blob_spread: tuple[float, float] = (0.35, 0.5)
    sj_peak: tuple[float, float] = (175.0, 250.0)
    weak_frac: float = 0.12
    weak_peak: tuple[float, float] = (95.0, 130.0)
    vc_peak: tuple[float, float] = (200.0, 245.0)
    vc_radius_frac: tuple[float, float] | None = None
    decoy_blobs_per_synapse: float = 0.125
    decoy_blob_val: tuple[float, float] = (60.0, 170.0)
    decoy_contacts_per_synapse: float = 0.0
    decoy_contact_peak: tuple[float, float] = (100.0, 220.0)
    noise_sd: float = 0.0
    blur_nm: float = 0.0
    smooth_noise_scale: float = 1.0

    @property
    def is_default(self) -> bool:
        """True for the default example's tissue (the generator's original code path)."""
        return self == Variation()

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def draw(cls, seed: int) -> "Variation":
        """The variation of volume ``seed`` (deterministic; independent of the tissue draws).

        Voxel size and gap follow the seed (``seed % 4`` and ``(seed + seed // 4) % 4``), so
        that 16 consecutive seeds cover every combination; everything else is drawn."""
        rng = np.random.default_rng([int(seed), _STREAM])
        u = rng.uniform

        def span(lo, hi, width_lo, width_hi):
            a = u(lo, hi)
            return (round(a, 3), round(a + u(width_lo, width_hi), 3))

        sj_lo = u(120.0, 200.0)
        weak_lo = u(75.0, 110.0)
        blob_lo = u(50.0, 120.0)
        half = u(0.02, 0.08)
        # voxel size and gap are not drawn but cycle with the seed, so that any 16 consecutive
        # seeds hold every pair of the 4 voxel sizes and the 4 gaps (0-3 voxels) once
        return cls(
            voxel_size_nm=VOXEL_SIZES_NM[seed % len(VOXEL_SIZES_NM)],
            gap_vx=(seed + seed // 4) % 4,
            axon_radius_scale=round(u(0.8, 1.25), 3),
            bouton_radius_um=span(0.15, 0.23, 0.06, 0.14),
            cleft_radius_um=span(0.1, 0.2, 0.08, 0.16),
            sj_half_width_um=round(half, 3),
            sj_offset_um=round(u(0.0, 0.6) * half, 3),
            sj_one_side_frac=round(u(0.0, 0.5), 3),
            sj_blob_frac=round(u(0.0, 1.0), 3),
            sj_blob_sigma_um=span(0.015, 0.03, 0.01, 0.025),
            sj_peak=(round(sj_lo, 1), round(min(255.0, sj_lo + u(30.0, 80.0)), 1)),
            weak_frac=round(u(0.0, 0.25), 3),
            weak_peak=(round(weak_lo, 1), round(weak_lo + u(20.0, 40.0), 1)),
            vc_peak=span(150.0, 210.0, 25.0, 45.0),
            vc_radius_frac=span(0.3, 0.55, 0.1, 0.25),
            decoy_blobs_per_synapse=round(u(0.05, 0.5), 3),
            decoy_blob_val=(round(blob_lo, 1), round(min(255.0, blob_lo + u(40.0, 110.0)), 1)),
            decoy_contacts_per_synapse=round(u(0.05, 0.35), 3),
            decoy_contact_peak=span(90.0, 180.0, 30.0, 70.0),
            noise_sd=round(u(0.0, 25.0), 2),
            blur_nm=round(u(0.0, 15.0), 2),
            smooth_noise_scale=round(u(0.5, 1.5), 3),
            # drawn last: the draws above are those of the volumes before it existed
            sj_blob_spread=span(0.35, 0.6, 0.1, 0.4),
        )

"""``qcdgen hic pairs`` and the initial-state-conditioned models' commands (registered under ``qcdgen hic``)."""

from __future__ import annotations

from qcdgen.cli import options


def register(sub) -> None:
    pr = options.add_command(sub, "pairs", run_pairs,
                             "build the (initial profile, final state, conditions) dataset from hydro event files")
    pr.add_argument("files", nargs="+", help="Parquet event files with their .profiles.h5 sidecars "
                                             "(qcdgen hic generate --model hydro, or --model blastwave --oversample K)")
    pr.add_argument("--out", required=True, help="output HDF5 pairs file")
    pr.add_argument("--profile-cells", type=int, default=32,
                    help="profile cells per side (block average of the sidecar's 64; default 32)")
    options.add_run_options(pr, seed=False, device=False)

    from qcdgen.cli import hic_emulator, hic_inverse_gen, hic_spectra

    hic_spectra.register(sub)
    hic_emulator.register(sub)
    hic_inverse_gen.register(sub)


def run_pairs(args) -> int:
    """Build the paired dataset: per event the initial entropy profile (P x P), the charged
    dN/(dy pT dpT dphi) on 16 x 32 (pT, phi) bins in |y| < 0.5 (averaged over the generator's
    --oversample particlizations), the event's charged hadrons as a point cloud and its conditions."""
    from qcdgen.hic.conditional.pairs import build_pairs, save_pairs

    pd = build_pairs(args.files, profile_cells=args.profile_cells, progress=not args.no_progress)
    path = save_pairs(pd, args.out)
    etas = sorted(set(float(x) for x in pd.conditions["eta_s"] if x == x))
    print(f"wrote {len(pd)} {pd.model} pairs to {path}: profiles {pd.profile_cells}x{pd.profile_cells} on "
          f"+-{pd.profile_window:g} fm, spectra {pd.spectra.shape[1]}x{pd.spectra.shape[2]} (oversample "
          f"{pd.oversample}), eta/s {etas}, {pd.cloud_offsets[-1]} cloud particles")
    return 0

"""2-D total variation denoising of a photograph: scikit-image's `camera` (512 x 512, scaled
to [0, 1]) plus Gaussian noise (sigma = 0.1), denoised by optkern.tv.denoise_2d with the
anisotropic and the isotropic TV, each at the lambda (from a small grid) with the best PSNR,
solved to a relative duality gap of 1e-6. The panels show the noisy image and both results
side by side with their PSNR (against the clean image); run times are in the CSV.

    python bench/figures/tv_2d_denoise.py [--size 512] [--sigma 0.1] [--lams 0.5 0.75 1 1.5]
                                          [--seed 0] [--out DIR]

writes tv_2d_denoise.png and tv_2d_denoise.csv (lambda, PSNR, iterations, gap, seconds per
TV) into bench/figures/out/.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import optkern


def psnr(clean, image):
    return 10 * np.log10(1.0 / np.mean((clean - image) ** 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lams", type=float, nargs="+", default=[0.5, 0.75, 1.0, 1.5],
                        help="the lambda grid, in units of sigma")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args(argv)
    from skimage import data, transform

    clean = data.camera().astype(np.float64) / 255.0
    if args.size != clean.shape[0]:
        clean = transform.resize(clean, (args.size, args.size), anti_aliasing=True)
    rng = np.random.default_rng(args.seed)
    noisy = clean + args.sigma * rng.standard_normal(clean.shape)
    rows = []
    best = {}
    for isotropic in (False, True):
        for lam in args.sigma * np.array(args.lams):
            start = time.perf_counter()
            info = optkern.tv.denoise_2d(noisy, lam, isotropic=isotropic, tol=1e-6,
                                         max_iter=5000, return_info=True)
            seconds = time.perf_counter() - start
            value = psnr(clean, info.y)
            rows.append(dict(tv="isotropic" if isotropic else "anisotropic", lam=lam,
                             psnr=value, nit=int(info.nit), gap=float(info.gap),
                             seconds=seconds))
            if isotropic not in best or value > best[isotropic][0]:
                best[isotropic] = (value, lam, info.y, seconds)
            print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "tv_2d_denoise.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    panels = [(noisy, f"noisy (sigma = {args.sigma}): {psnr(clean, noisy):.2f} dB")]
    for isotropic in (False, True):
        value, lam, image, seconds = best[isotropic]
        name = "isotropic" if isotropic else "anisotropic"
        panels.append((image, f"{name} TV, lambda = {lam:.3g}: {value:.2f} dB"))
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"optkern.tv.denoise_2d on camera ({clean.shape[0]}x{clean.shape[1]}), "
                 "relative duality gap <= 1e-6", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out / "tv_2d_denoise.png", dpi=110)
    print(f"wrote {args.out / 'tv_2d_denoise.png'}")


if __name__ == "__main__":
    main()

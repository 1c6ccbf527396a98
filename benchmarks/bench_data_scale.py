"""Real-data scale, measured side by side in one run (not a test): streaming images vs the in-RAM path.

Generates an R2Gen-format dataset of N studies x 2 views (``--studies``, default 20,000; ``--px`` 512) of
smooth synthetic images (a bank of ``--bank`` distinct PNGs copied per file, so writing stays fast and
the disk small) with generated report text, then prints, each figure from a fresh process so that peak
RSS is its own:

1. fingerprint: first call (every file hashed) and second call (stat cache);
2. the train split through today's path before this change (the whole split decoded into one array in
   RAM on one thread, as ``ImageCache.open`` did) vs the on-disk sharded cache build (decode threads);
3. images/s through ``crop_loader`` (torch DataLoader over the memory-mapped cache) with 0 and 2 workers;
4. peak RSS of ``--steps`` training steps of a family method (``osrrg`` tiny, ``--size`` px) with the
   in-RAM image dict (``image_cache: true``) vs streaming (``image_cache: false``, 2 loader workers).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_scale.py [--studies 20000] [--px 512]
        [--size 256] [--steps 5] [--workdir DIR] [--keep] [--only fingerprint]

Targets (issue 15): loader peak RSS <= 2 GB at 20k x 2 x 512 px; fingerprint of an unchanged 40k-image
dataset <= 5 s on the second call.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _bank(count: int, px: int, seed: int = 0) -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:px, 0:px] / px
    out = []
    for _ in range(count):
        img = 0.25 + 0.4 * x * rng.random()
        for _ in range(3):
            cx, cy, s = rng.random(), rng.random(), 0.1 + 0.3 * rng.random()
            img = img + 0.3 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
        buf = io.BytesIO()
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG", compress_level=1)
        out.append(buf.getvalue())
    return out


def generate(root: Path, studies: int, px: int, bank_size: int) -> None:
    """``root/annotation.json`` + ``root/images/<id>/{0,1}.png`` (70/10/20 split)."""
    import random

    from rrgbench.scoring.synthetic import report

    bank = _bank(bank_size, px)
    rng = random.Random(0)
    ann: dict[str, list] = {"train": [], "val": [], "test": []}
    for i in range(studies):
        sid = f"S{i:06d}"
        split = "train" if i % 10 < 7 else "val" if i % 10 == 7 else "test"
        d = root / "images" / sid
        d.mkdir(parents=True, exist_ok=True)
        for k in range(2):
            (d / f"{k}.png").write_bytes(bank[(2 * i + k) % len(bank)])
        ann[split].append({"id": sid, "report": report(rng), "image_path": [f"{sid}/0.png", f"{sid}/1.png"],
                           "split": split})
    (root / "annotation.json").write_text(json.dumps(ann), encoding="utf-8")


# ------------------------------------------------------------------------------------- child tasks


def _dataset(root: Path, **options):
    from rrgbench.plugins import get_host

    return get_host().datasets.get("iu_xray")(data_dir=root, **options)


def task_fingerprint(root: Path, args: argparse.Namespace) -> dict:
    t = time.perf_counter()
    h = _dataset(root).manifest_hash()
    return {"seconds": time.perf_counter() - t, "hash": h[:12]}


def task_in_ram(root: Path, args: argparse.Namespace) -> dict:
    """Today's path before this change: one [n, views, S, S] array of the whole split, decoded serially."""
    from rrgbench.data.imagecache import decode_views

    samples = _dataset(root).split("train")
    t = time.perf_counter()
    arr = np.zeros((len(samples), 2, args.size, args.size), dtype=np.uint8)
    for i, s in enumerate(samples):
        arr[i] = decode_views(s, args.size)
    return {"seconds": time.perf_counter() - t, "images": 2 * len(samples), "array_mb": arr.nbytes / 2**20}


def task_cache_build(root: Path, args: argparse.Namespace) -> dict:
    ds = _dataset(root)
    samples = ds.split("train")
    t = time.perf_counter()
    ds.image_cache("train", args.size)
    return {"seconds": time.perf_counter() - t, "images": 2 * len(samples)}


def task_loader(root: Path, args: argparse.Namespace) -> dict:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
    from rrgbench_plugins.methods.common.batching import StudyCrops, batches, crop_loader, crop_offsets

    ds = _dataset(root)
    samples = ds.split("train")
    ds.image_cache("train", args.size)
    crop = args.size - args.size // 8
    n = min(len(samples), args.loader_studies)
    plan = [[(i, t, left) for i, (t, left) in zip(idx, crop_offsets(len(idx), args.size, crop, True, k))]
            for k, idx in enumerate(batches(n, 32, shuffle=True, seed=0))]
    t = time.perf_counter()
    seen = 0
    for batch in crop_loader(StudyCrops(samples, ds, args.size, crop), plan, workers=args.workers):
        seen += batch.shape[0]
        torch.flip(batch, (1,))  # touch the data
    return {"seconds": time.perf_counter() - t, "images": seen}


def task_train(root: Path, args: argparse.Namespace) -> dict:
    import torch

    from rrgbench.api import RunContext
    from rrgbench.plugins import get_host

    torch.set_num_threads(1)
    ds = _dataset(root)
    cls = get_host().methods.get("osrrg")
    cfg = cls.default_config("tiny", "iu_xray")
    cfg.update(load_size=args.size, image_size=args.size - args.size // 8, image_cache=args.image_cache,
               loader_workers=2 if not args.image_cache else 0, max_steps=args.steps, epochs=1, val_limit=0)
    method = cls(cfg, RunContext(run_dir=Path(tempfile.mkdtemp(prefix="rrg-bench-train-")), seed=0))
    t = time.perf_counter()
    method.prepare(ds)
    ds.image_cache("train", args.size)  # the disk cache is built once per dataset x size: not part of steps
    prep = time.perf_counter() - t
    t = time.perf_counter()
    method.train(cls.stages[0], ds)
    return {"seconds": time.perf_counter() - t, "prepare_s": prep, "steps": args.steps}


TASKS = {"fingerprint": task_fingerprint, "in_ram": task_in_ram, "cache_build": task_cache_build,
         "loader": task_loader, "train": task_train}


def _child(task: str, root: Path, env: dict[str, str], **flags) -> dict:
    cmd = [sys.executable, __file__, "--child", task, "--workdir", str(root.parent)]
    for k, v in flags.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"rc {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=20_000)
    ap.add_argument("--px", type=int, default=512, help="generated image size")
    ap.add_argument("--size", type=int, default=256, help="decode / cache / training load size")
    ap.add_argument("--bank", type=int, default=64, help="distinct generated images")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--loader-studies", type=int, default=2000, help="train studies read per loader figure")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--image-cache", type=lambda s: s == "True", default=True)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the generated dataset")
    ap.add_argument("--only", choices=("fingerprint",), help="print only these figures (e.g. the fingerprint's "
                    "two calls, quick with a small --px: the second call reads no image)")
    ap.add_argument("--child", choices=sorted(TASKS))
    args = ap.parse_args()

    if args.child:
        out = TASKS[args.child](args.workdir / "data", args)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return

    work = args.workdir or Path(tempfile.mkdtemp(prefix="rrg-data-scale-"))
    root = work / "data"
    env = {**os.environ, "RRGBENCH_CACHE": str(work / "cache")}
    print(f"# load: {os.getloadavg()}  cpus: {os.cpu_count()}  OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"# dataset: {args.studies} studies x 2 views at {args.px} px -> {root}; cache/load size {args.size} px",
          flush=True)
    if not (root / "annotation.json").is_file():
        t = time.perf_counter()
        generate(root, args.studies, args.px, args.bank)
        print(f"# generated in {time.perf_counter() - t:.0f} s", flush=True)
    common = {"size": args.size, "studies": args.studies}
    figures = [("fingerprint, first call", "fingerprint", {}),
               ("fingerprint, second call", "fingerprint", {}),
               ("train split in RAM (before)", "in_ram", {}),
               ("train split disk cache build", "cache_build", {}),
               ("loader, 0 workers", "loader", {"workers": 0, "loader_studies": args.loader_studies}),
               ("loader, 2 workers", "loader", {"workers": 2, "loader_studies": args.loader_studies}),
               (f"osrrg {args.steps} steps, image dict", "train", {"steps": args.steps, "image_cache": True}),
               (f"osrrg {args.steps} steps, streamed", "train", {"steps": args.steps, "image_cache": False})]
    if args.only:
        figures = [f for f in figures if f[1] == args.only]
    print(f"{'figure':<34} {'seconds':>8} {'images/s':>9} {'peak RSS MB':>12}  notes", flush=True)
    for name, task, flags in figures:
        r = _child(task, root, env, **common, **flags)
        if "error" in r:
            print(f"{name:<34} error: {r['error']}", flush=True)
            continue
        rate = f"{r['images'] / r['seconds']:.0f}" if r.get("images") and r["seconds"] > 0 else ""
        notes = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()
                 if k not in ("seconds", "images", "peak_rss_mb")}
        print(f"{name:<34} {r['seconds']:>8.2f} {rate:>9} {r['peak_rss_mb']:>12.0f}  {notes or ''}", flush=True)
    print(f"# load after: {os.getloadavg()}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

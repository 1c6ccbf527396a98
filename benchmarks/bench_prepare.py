"""Dataset preparation speed, measured side by side in one run.

Prints wall and CPU seconds for: rendering one phantom study (PA + lateral), PNG encoding, preparing
``synthetic`` (400 studies), preparing ``iu_xray_phantom`` (3,425 studies, report text from the
torchxrayvision wheel), hashing the manifest, and building the decoded image cache of the train split.
Everything goes to a fresh temporary cache, so nothing is reused from earlier runs. ``cpu`` counts this
process and its render workers; on a shared machine (high load average) compare ``cpu / workers`` with
the wall time to see what the build costs on free cores.

    python benchmarks/bench_prepare.py [--skip-iu] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def _cpu() -> float:
    """CPU seconds of this process plus its finished children (the render workers)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _timed(label: str, fn, *args, **kw):  # noqa: ANN001, ANN202 - tiny benchmark helper
    wall, cpu = time.perf_counter(), _cpu()
    out = fn(*args, **kw)
    print(f"{label:<48} wall {time.perf_counter() - wall:8.2f}s   cpu {_cpu() - cpu:8.2f}s   "
          f"load {os.getloadavg()[0]:5.1f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-iu", action="store_true", help="Skip the 3,425-study iu_xray_phantom build.")
    ap.add_argument("--workers", type=int, default=None, help="Render processes (default: min(2, cores)).")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rrgbench-bench-")
    os.environ["RRGBENCH_CACHE"] = tmp
    os.environ.pop("RRGBENCH_DATA", None)
    if args.workers:
        os.environ["RRGBENCH_WORKERS"] = str(args.workers)

    from rrgbench_plugins.datasets.phantom.renderer import render_study

    from rrgbench.data.build import png_bytes
    from rrgbench.plugins import get_host

    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  cache: {tmp}")
    tags = ["Cardiomegaly/mild", "Pleural Effusion/left/small", "Opacity/lung/base/right"]
    render_study(tags, 0)
    n = 50
    views = _timed(f"render {n} studies (256 px, PA + lateral)", lambda: [render_study(tags, i)[0] for i in range(n)])
    _timed(f"PNG-encode {2 * n} views", lambda: [png_bytes(v) for pair in views for v in pair])

    host = get_host()
    syn = host.datasets.get("synthetic")(n_studies=400)
    _timed("prepare synthetic (400 studies)", syn.prepare)
    _timed("synthetic: load + validate + manifest", syn.manifest_hash)
    _timed("synthetic: image cache train @224", syn.image_cache, "train", 224)
    if not args.skip_iu:
        iu = host.datasets.get("iu_xray_phantom")()
        _timed("prepare iu_xray_phantom (3,425 studies, fresh)", iu.prepare)
        _timed("iu_xray_phantom: load + validate + manifest", iu.manifest_hash)
        _timed("iu_xray_phantom: image cache train @224", iu.image_cache, "train", 224)
        _timed("iu_xray_phantom: prepare again (no-op)", host.datasets.get("iu_xray_phantom")().prepare)
        ds = host.datasets.get("iu_xray_phantom")()
        _timed("iu_xray_phantom: manifest again (stat cache)", ds.manifest_hash)
        sample = ds.split("train")[0]
        ds.image_cache("train", 224)
        _timed("load_images x1000 from the cache", lambda: [ds.load_images(sample, 224) for _ in range(1000)])


if __name__ == "__main__":
    main()

"""Mid-stage training state, so a killed training stage resumes from its last save instead of restarting.

The runner gives each method training stage a directory, ``ctx.resume_dir`` =
``<run>/train_state/<stage>/``, and deletes it once the stage's checkpoint is committed. A training loop
that cooperates does, in outline::

    state = ctx.load_train_state()                  # None on a fresh start
    if state is not None:
        model.load_state_dict(state["states"]["model"]); optimizer.load_state_dict(state["states"]["optim"])
        start_step = state["step"]                   # RNG states are already restored
    ...
    every N steps (after optimizer.step()):
        ctx.save_train_state({"model": model.state_dict(), "optim": optimizer.state_dict()},
                             step=step, epoch=epoch)

Files are written atomically and read with ``torch.load(weights_only=True)``: tensors, numbers, strings
and plain containers only. Python, numpy, torch (and CUDA) RNG states are saved and restored, so a loop
whose batches depend only on ``(seed, epoch)`` continues bit-identically on CPU. Methods that do not call
these simply restart an interrupted stage from the previous stage's checkpoint.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

from .errors import RRGBenchError
from .io import atomic_write_bytes

STATE_FILE = "state.pt"


def _rng_states() -> dict[str, Any]:
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng(state: dict[str, Any]) -> None:
    """Restore the RNG streams saved with ``state`` (for loaders that called ``load(restore_rng=False)``)."""
    _restore_rng(state["rng"])


def _restore_rng(states: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(_tuplify(states["python"]))
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _tuplify(value: Any) -> Any:
    """random.setstate wants tuples; a round trip may hand back lists."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuplify(v) for v in value)
    return value


def save(resume_dir: Path, states: dict[str, Any], *, step: int, epoch: int = 0,
         extra: dict[str, Any] | None = None) -> None:
    """Atomically write ``states`` (state dicts) with the step, epoch and every RNG state."""
    import torch

    buf = io.BytesIO()
    torch.save({"step": int(step), "epoch": int(epoch), "states": states, "extra": extra or {},
                "rng": _rng_states()}, buf)
    atomic_write_bytes(Path(resume_dir) / STATE_FILE, buf.getvalue())


def load(resume_dir: Path, *, map_location: str = "cpu", restore_rng: bool = True) -> dict[str, Any] | None:
    """The last saved state (``{"step", "epoch", "states", "extra"}``) or ``None``; restores RNG states."""
    import torch

    path = Path(resume_dir) / STATE_FILE
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated, corrupt, or carrying pickled code
        raise RRGBenchError(f"{path}: cannot read training state ({describe_load_error(exc)}); "
                            f"delete it to restart this training stage") from None
    if restore_rng:
        _restore_rng(state["rng"])
    return state


def describe_load_error(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without torch's advice to retry unsafely.

    A refused pickle gets its own sentence naming the offending global; anything else is the exception.
    """
    import pickle
    import re

    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in text or "Weights only load failed" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f" (it references {found.group(1)})" if found else ""
        return ("refused: the file carries pickled Python objects" + what + ", which could run code when "
                "loaded; rrgbench loads only tensors and plain data (weights_only=True)")
    return f"{type(exc).__name__}: {text}"

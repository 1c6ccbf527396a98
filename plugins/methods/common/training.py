"""A small generic training loop: AdamW (no decay on biases/norms), warmup + cosine LR, grad clipping,
optional bf16 autocast on CUDA (``precision: bf16``; parameters, optimiser and gradients stay fp32).

The schedule is the PromptMRG family's ``LinearWarmupCosineLRScheduler`` (notes §2), whose trainer counts
epochs from 1: in epoch 1 the LR rises linearly from ``warmup_lr`` to ``lr`` over ``warmup_steps`` steps;
epoch ``e`` = 2..E runs at ``min_lr + (lr - min_lr)·½(1 + cos(π·e/E))``, so the last epoch runs at
``min_lr``. (Here epochs are 0-based: epoch index ``i`` is the original's epoch ``i + 1``.)

Resumable: every ``save_every`` steps and at each epoch end the loop saves model, optimizer, progress and
the caller's own state (``state_hooks``) through ``ctx.save_train_state``; a killed stage restarted by the
runner continues from the last save (:mod:`rrgbench.train_state`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rrgbench.api import RunContext


@dataclass
class FitConfig:
    epochs: int = 1
    lr: float = 5e-5
    min_lr: float = 5e-6
    warmup_lr: float = 5e-7
    warmup_steps: int = 2000
    weight_decay: float = 0.05
    clip_value: float | None = 0.1  # clip_grad_value_ (PromptMRG family); None disables
    clip_norm: float | None = None
    max_steps: int | None = None  # stop early (tests, smoke runs)
    save_every: int | None = 500  # steps between mid-epoch resume saves (None: epoch ends only)
    precision: str = "fp32"  # "bf16": bf16 autocast of the forward/loss on CUDA (fp32 on CPU); see run facts

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> FitConfig:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in cfg.items() if k in names})


def param_groups(params: Iterable[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict]:
    """Two AdamW groups: decay for matrices, none for biases, norms and other 1-d parameters."""
    decay, no_decay = [], []
    for name, p in params:
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or name.endswith(".bias") or "norm" in name.lower() else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(cfg: FitConfig, epoch: int, step: int) -> float:
    """Learning rate for global ``step`` in 0-based ``epoch``: linear warm-up in the first epoch, then the
    per-epoch cosine of the 1-based epoch number ``epoch + 1`` over ``cfg.epochs``, ending at ``min_lr``."""
    if epoch == 0:
        if cfg.warmup_steps <= 0:
            return cfg.lr
        return min(cfg.lr, cfg.warmup_lr + (cfg.lr - cfg.warmup_lr) * step / max(1, cfg.warmup_steps))
    progress = min(1.0, (epoch + 1) / max(1, cfg.epochs))
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def fit(model: nn.Module, step_fn: Callable[[Any], dict[str, torch.Tensor]],
        epoch_batches: Callable[[int], Sequence[Any]], cfg: FitConfig, ctx: RunContext, *,
        params: Iterable[tuple[str, nn.Parameter]] | None = None,
        on_epoch_end: Callable[[int], dict[str, Any] | None] | None = None, desc: str = "train",
        state_hooks: tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]] | None = None,
        ) -> dict[str, Any]:
    """Train ``model``; ``step_fn(batch)`` returns a dict of scalar losses whose ``"loss"`` is optimised.

    ``epoch_batches(epoch)`` gives the batches of one epoch; it must depend only on the epoch (and seeds),
    so that a resumed run sees the same batches. ``state_hooks = (get, set)`` lets the caller save and
    restore its own per-epoch state (best epoch so far, priors) with the resume saves. Returns training
    facts: steps, seconds, the mean of each loss per epoch, and whatever ``on_epoch_end(epoch)`` returned.
    """
    optimizer = torch.optim.AdamW(param_groups(params if params is not None else model.named_parameters(),
                                               cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.999))
    trainable = [p for g in optimizer.param_groups for p in g["params"]]
    history: list[dict[str, float]] = []
    extra: list[Any] = []
    step, start, first_epoch, skip = 0, time.perf_counter(), 0, 0
    sums: dict[str, float] = {}
    count = 0

    def save(epoch: int, batch: int) -> None:
        owner = state_hooks[0]() if state_hooks else {}
        ctx.save_train_state({"model": model.state_dict(), "optim": optimizer.state_dict()}, step=step, epoch=epoch,
                             extra={"batch": batch, "history": history, "epoch_end": extra, "sums": sums,
                                    "count": count, "owner": owner})

    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    if cfg.precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', not {cfg.precision!r}")
    use_bf16 = cfg.precision == "bf16" and device.type == "cuda"
    precision = "bf16-autocast" if use_bf16 else "fp32"

    saved = ctx.load_train_state()
    if saved is not None:
        model.load_state_dict(saved["states"]["model"])
        optimizer.load_state_dict(saved["states"]["optim"])
        step, first_epoch, info = int(saved["step"]), int(saved["epoch"]), saved["extra"]
        skip, history, extra = int(info["batch"]), list(info["history"]), list(info["epoch_end"])
        sums, count = (dict(info["sums"]), int(info["count"])) if skip else ({}, 0)
        if state_hooks:
            state_hooks[1](info["owner"])
        ctx.logger.info("%s: resuming at epoch %d, batch %d (step %d)", desc, first_epoch + 1, skip, step)
    for epoch in range(first_epoch, cfg.epochs):
        if cfg.max_steps is not None and step >= cfg.max_steps:
            break
        model.train()
        if epoch != first_epoch or not skip:
            sums, count = {}, 0
        bar = ctx.progress(epoch_batches(epoch), desc=f"{desc} {epoch + 1}/{cfg.epochs}", leave=False)
        for index, batch in enumerate(bar):
            if epoch == first_epoch and index < skip:
                continue  # done before the interruption (built anyway: batch seeds follow their order)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, epoch, step)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                losses = step_fn(batch)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            if cfg.clip_value is not None:
                torch.nn.utils.clip_grad_value_(trainable, cfg.clip_value)
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(trainable, cfg.clip_norm)
            optimizer.step()
            step += 1
            count += 1
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{float(losses['loss'].detach()):.3f}")
            if cfg.max_steps is not None and step >= cfg.max_steps:
                break
            if cfg.save_every and step % cfg.save_every == 0:
                save(epoch, index + 1)
        means = {k: v / max(1, count) for k, v in sums.items()}
        history.append(means)
        ctx.logger.info("%s epoch %d: %s", desc, epoch + 1, " ".join(f"{k}={v:.4f}" for k, v in means.items()))
        if on_epoch_end is not None:
            extra.append(on_epoch_end(epoch))
        sums, count = {}, 0
        save(epoch + 1, 0)
    facts: dict[str, Any] = {"steps": step, "seconds": round(time.perf_counter() - start, 2), "epochs": history,
                             "precision": precision}
    if any(e is not None for e in extra):
        facts["epoch_end"] = extra
    return facts

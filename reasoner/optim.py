"""Optimisers in plain PyTorch (no CUDA extension) and the learning-rate schedule."""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch.optim import Optimizer


class AdamATan2(Optimizer):
    """Adam with atan2 in place of the division by sqrt(v) + eps (Everett et al. 2024).

    atan2(m, sqrt(v)) is bounded and scale-invariant, so there is no epsilon to tune. Update:
        p *= 1 - lr * wd
        m  = beta1 m + (1 - beta1) g
        v  = beta2 v + (1 - beta2) g^2
        p -= lr / (1 - beta1^t) * atan2(m, sqrt(v / (1 - beta2^t)))
    """

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95), weight_decay: float = 0.0):
        if lr < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid AdamATan2 settings lr={lr} betas={betas} weight_decay={weight_decay}")
        # lr == 0 is allowed: the schedule sets the real value before the first step.
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamATan2 does not take sparse gradients; use SignSGD for those")
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"].item()
                m, v = state["exp_avg"], state["exp_avg_sq"]
                p.mul_(1 - lr * wd)
                m.lerp_(p.grad, 1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (v / (1 - beta2**t)).sqrt_()
                p.add_(torch.atan2(m, denom), alpha=-lr / (1 - beta1**t))
        return loss


class SignSGD(Optimizer):
    """Sign-SGD with decoupled weight decay, for the sparse per-puzzle embedding table.

    Each step touches only the rows present in the batch (a sparse gradient); with such sparse,
    rarely-seen rows Adam's moments are mostly stale, and Adam with beta -> 0 reduces to sign-SGD.
    """

    def __init__(self, params, lr: float = 1e-2, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.coalesce() if p.grad.is_sparse else p.grad.to_sparse(1)
                rows = grad.indices()[0]
                values = grad.values()
                p[rows] = p[rows] * (1 - lr * wd) - lr * values.sign()
        return None


def lr_factor(step: int, warmup_steps: int, total_steps: int, schedule: str, min_ratio: float,
              decay_steps: int = 0) -> float:
    """Linear warm-up to 1, then constant; or cosine down to `min_ratio` over the rest of the run
    ("cosine"), or only over its last `decay_steps` ("wsd": warm-up, stable, decay)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_start = warmup_steps if schedule == "cosine" else max(warmup_steps, total_steps - decay_steps)
    if step < decay_start:
        return 1.0
    progress = min(1.0, (step - decay_start) / max(1, total_steps - decay_start))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of a model's floating-point parameters (TRM uses 0.999).

    The shadow copy is what evaluation and export use: it smooths out the late-training
    oscillations that made the reference overfit and diverge on small data. The decay warms up
    as (1 + t) / (10 + t) so that a short CPU run is not dominated by its random initialisation.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for name, p in model.named_parameters():
            self.shadow[name].lerp_(p.detach(), 1 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**self.shadow, "_updates": torch.tensor(self.updates)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        self.updates = int(state.pop("_updates", 0))
        for name, tensor in state.items():
            self.shadow[name].copy_(tensor)

    @contextmanager
    def applied(self, model: torch.nn.Module):
        """Temporarily load the averaged weights into `model`."""
        saved = {name: p.detach().clone() for name, p in model.named_parameters()}
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(self.shadow[name])
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    p.copy_(saved[name])

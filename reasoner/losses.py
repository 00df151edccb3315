"""Losses: stablemax / softmax cross-entropy for the answer, BCE for the Q-head."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .tasks.base import IGNORE_LABEL  # re-exported: the tasks own the label convention


def log_stablemax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log of stablemax: s(x) = x + 1 for x >= 0, 1 / (1 - x) otherwise, normalised over `dim`.

    Stablemax grows linearly instead of exponentially, which avoids the softmax collapse the
    HRM authors saw on small training sets. Computed in float64 like the reference.
    """
    x = logits.double()
    # Each branch only sees its own side of 0: an unused 1/(1-x) at x = 1 would still put
    # inf * 0 = NaN into the gradient.
    s = torch.where(x >= 0, x.clamp_min(0) + 1, 1 / (1 - x.clamp_max(0)))
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-token loss [batch, seq]; 0 where labels == IGNORE_LABEL."""
    valid = labels != IGNORE_LABEL
    safe_labels = torch.where(valid, labels, 0)
    if kind == "stablemax":
        logp = log_stablemax(logits)
        loss = -logp.gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1)
    elif kind == "softmax":
        loss = F.cross_entropy(logits.float().flatten(0, 1), safe_labels.flatten(), reduction="none").view(labels.shape)
    else:
        raise ValueError(f"unknown loss {kind!r}")
    return torch.where(valid, loss, torch.zeros_like(loss))


def q_continue_target(next_q_halt: torch.Tensor, next_q_continue: torch.Tensor, is_last_step: torch.Tensor) -> torch.Tensor:
    """The paper's Q-learning target for "continue", from the next segment's Q-values.

    Continuing leads to the next segment, whose value is the better of halting or continuing there,
    unless that next segment is the last allowed one, where only halting remains. Values are
    probabilities (sigmoid of the logits): halting is rewarded 1 iff the answer is right.
    """
    best_next = torch.where(is_last_step, next_q_halt, torch.maximum(next_q_halt, next_q_continue))
    return torch.sigmoid(best_next)


def act_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    q_halt: torch.Tensor,
    q_continue: torch.Tensor,
    target_q_continue: torch.Tensor | None,
    kind: str,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Summed (not averaged) over the batch, as in the reference; the caller divides by batch size.

    Returns the loss and per-row quantities used for metrics.
    """
    valid = labels != IGNORE_LABEL
    n_valid = valid.sum(-1).clamp_min(1)
    token_loss = token_cross_entropy(logits, labels, kind)
    lm_loss = (token_loss.sum(-1) / n_valid).sum()  # each sequence counts equally

    with torch.no_grad():
        token_correct = (logits.argmax(-1) == labels) & valid
        seq_correct = token_correct.sum(-1) == valid.sum(-1)

    # Halting is rewarded exactly when the current answer is entirely right.
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt, seq_correct.to(q_halt.dtype), reduction="sum")
    loss = lm_loss + 0.5 * q_halt_loss
    parts = {"lm_loss": lm_loss.detach(), "q_halt_loss": q_halt_loss.detach()}
    if target_q_continue is not None:
        q_continue_loss = F.binary_cross_entropy_with_logits(q_continue, target_q_continue, reduction="sum")
        loss = loss + 0.5 * q_continue_loss
        parts["q_continue_loss"] = q_continue_loss.detach()
    parts["token_correct"] = token_correct.sum(-1)
    parts["n_valid"] = valid.sum(-1)
    parts["seq_correct"] = seq_correct
    return loss.float(), parts

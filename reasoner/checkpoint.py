"""Shipped weights (safetensors + a JSON card) and resumable training state.

A *model checkpoint* is `<name>.safetensors` plus `<name>.json`, the card: task, model config,
training config, data, seed, steps, CPU time, measured accuracy, the command that made it and the
sha256 of the weights file. The pair is written to temporary files and renamed into place, the card
last, so a crash leaves either the old pair, or new weights beside an old card whose sha256 does not
match them: the loader refuses that ("weights and card do not match"). Cards written before the
sha256 was recorded carry none and load unchecked.
A *training state* (`train_state.pt`) adds the optimiser, EMA, step, ACT carry and RNG states so a
run can continue in a later sitting; it holds only tensors and plain values and is read with
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from .config import ModelConfig, TrainConfig
from .model import HRM, count_parameters
from .tasks import Task, make_task

CARD_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, malformed, or its weights and card do not belong together;
    the message names the file."""


class GiveUp(BaseModel):
    """When `solve()`'s verified halting stops trying: the first segment, from `from_segment` on,
    whose Q-head halt logit is under `logit` (the model rates its answer hopeless). A property of
    one checkpoint's Q-head, measured on it (`measured` says how), so it lives on its card."""

    logit: float
    from_segment: int = 1
    measured: str = ""


class CheckpointCard(BaseModel):
    model_config = ConfigDict(extra="allow")

    format_version: int = CARD_VERSION
    task: dict[str, Any]
    model: ModelConfig
    train: TrainConfig | None = None
    data: dict[str, Any] = {}
    seed: int | None = None
    steps: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    parameters: int = 0
    metrics: dict[str, Any] = {}
    command: str | None = None  # the command that started the run
    resumed_with: list[str] = []  # commands that continued it, in order
    torch_version: str = torch.__version__
    weights_sha256: str | None = None  # of the .safetensors file; None on cards older than the check
    give_up: GiveUp | None = None  # None: verified halting runs until an answer verifies or M_max


def card_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _temp_name(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _sync(path: Path) -> None:
    """Flush a written file to disk, so the rename that follows never publishes a half-written file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = _temp_name(path)
    tmp.write_text(text, encoding="utf-8")
    _sync(tmp)
    os.replace(tmp, path)


def save_checkpoint(model: HRM, path: str | Path, card: CheckpointCard) -> Path:
    """Write `<path>.safetensors` and `<path>.json` (weights, then the card naming their sha256, each
    to a temporary file renamed into place); returns the weights path."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    weights_tmp = _temp_name(path)
    # save_model handles the tensors TRM shares between its H and L names.
    save_model(model, str(weights_tmp), metadata={"format": "hrm-reasoner", "card_version": str(CARD_VERSION)})
    _sync(weights_tmp)
    card = card.model_copy(update={"parameters": count_parameters(model), "weights_sha256": file_sha256(weights_tmp)})
    card_tmp = _temp_name(card_path(path))
    card_tmp.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    _sync(card_tmp)
    os.replace(weights_tmp, path)
    os.replace(card_tmp, card_path(path))  # last: until here the old card (if any) disowns the new weights
    return path


def read_card(path: Path) -> CheckpointCard:
    """The card beside weights `path`; CheckpointError naming the card if it is not a valid card."""
    card_file = card_path(path)
    if not card_file.is_file():
        raise FileNotFoundError(f"checkpoint {path} has no card {card_file.name} beside it")
    try:
        card = CheckpointCard.model_validate(json.loads(card_file.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:  # JSON, UTF-8 and pydantic errors are ValueErrors
        raise CheckpointError(f"{card_file} is not a valid checkpoint card: {err}") from None
    if card.format_version > CARD_VERSION:
        raise CheckpointError(f"{card_file} was written by a newer version (card format {card.format_version})")
    return card


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu", size: int | None = None) -> tuple[HRM, Task, CheckpointCard]:
    """Weights and card -> (model in eval mode, task, card). FileNotFoundError when a file is missing;
    CheckpointError (naming the file) when one is corrupt, malformed, or the pair does not match.
    `size` runs a size-free model (see ModelConfig.size_free) on mazes of another side: the same
    weights, the task and the config rebuilt for that grid."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    card = read_card(path)
    if card.weights_sha256 is not None and (got := file_sha256(path)) != card.weights_sha256:
        raise CheckpointError(
            f"weights and card do not match: {path} has sha256 {got}, its card {card_path(path)} records "
            f"{card.weights_sha256} (an interrupted save or copy?); write the checkpoint again"
        )
    task_spec, model_cfg = card.task, card.model
    if size is not None and size != card.task.get("size"):
        if "size" not in card.task:
            raise ValueError(f"{path} is a {card.task.get('name')} checkpoint, which has no size to change")
        task_spec = {**card.task, "size": size}
        model_cfg = card.model.on_grid((size, size))  # ValueError unless the model is size-free
    try:
        task = make_task(**task_spec)
        model = HRM(model_cfg)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{card_path(path)} describes no model this version can build: {err}") from None
    try:
        load_model(model, str(path), strict=True, device=str(device))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"cannot load the weights {path} with its card {card_path(path).name}: {err}") from None
    model.to(device).eval()
    return model, task, card


def save_train_state(path: str | Path, state: dict[str, Any]) -> None:
    """Atomic write so an interrupted save never destroys the previous state."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    _sync(tmp)
    tmp.replace(path)


def trim_log(path: Path, step: int) -> None:
    """Keep only the log records up to `step` (where a resumed run continues): the records a stopped
    run wrote after its last saved state are written again by the resumed run. A torn last line
    from a crash goes too."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line)
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def load_train_state(path: str | Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError, SafetensorError) as err:
        # truncated, or not a torch file
        raise CheckpointError(f"cannot read the training state {path}: {err}") from None

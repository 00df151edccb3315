"""Shipped weights (safetensors + a JSON card) and resumable training state.

A *model checkpoint* is `<name>.safetensors` plus `<name>.json`, the card: task, model config,
training config, data, seed, steps, CPU time, measured accuracy and the command that made it.
A *training state* (`train_state.pt`) adds the optimiser, EMA, step, ACT carry and RNG states so a
run can continue in a later sitting; it holds only tensors and plain values and is read with
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from safetensors.torch import load_model, save_model

from .config import ModelConfig, TrainConfig
from .model import HRM, count_parameters
from .tasks import Task, make_task

CARD_VERSION = 1


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


def card_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def save_checkpoint(model: HRM, path: str | Path, card: CheckpointCard) -> Path:
    """Write `<path>.safetensors` and `<path>.json`; returns the weights path."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    card = card.model_copy(update={"parameters": count_parameters(model)})
    # save_model handles the tensors TRM shares between its H and L names.
    save_model(model, str(path), metadata={"format": "hrm-reasoner", "card_version": str(CARD_VERSION)})
    card_path(path).write_text(card.model_dump_json(indent=2) + "\n")
    return path


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu", size: int | None = None) -> tuple[HRM, Task, CheckpointCard]:
    """The model, its task and its card. `size` runs a size-free model (see ModelConfig.size_free)
    on mazes of another side: the same weights, the task and the config rebuilt for that grid."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not card_path(path).is_file():
        raise FileNotFoundError(f"checkpoint {path} has no card {card_path(path).name} beside it")
    card = CheckpointCard.model_validate(json.loads(card_path(path).read_text()))
    if card.format_version > CARD_VERSION:
        raise ValueError(f"{path} was written by a newer version (card format {card.format_version})")
    task_spec, model_cfg = card.task, card.model
    if size is not None and size != card.task.get("size"):
        if "size" not in card.task:
            raise ValueError(f"{path} is a {card.task.get('name')} checkpoint, which has no size to change")
        task_spec = {**card.task, "size": size}
        model_cfg = card.model.on_grid((size, size))
    task = make_task(**task_spec)
    model = HRM(model_cfg)
    missing, unexpected = load_model(model, str(path), strict=True, device=str(device))
    model.to(device).eval()
    return model, task, card


def save_train_state(path: str | Path, state: dict[str, Any]) -> None:
    """Atomic write so an interrupted save never destroys the previous state."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_train_state(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)

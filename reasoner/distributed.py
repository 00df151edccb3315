"""Training on several processes (torchrun or `accelerate launch`): who holds which rows, and how
the processes combine gradients, counts and the training state.

The run is defined by its global batch: process r holds slots [r*B, (r+1)*B) of it (B = global batch
/ processes), and every random draw that decides the data (which puzzles, their augmentation,
ACT exploration) is made for the whole global batch by every process alike, each keeping its rows.
So N processes train on exactly the puzzles one process would, every process keeps the same random
state, and the gradient is the sum over processes of each one's share of the loss, normalised by the
global batch (the reference's `loss / global_batch_size`, then an all-reduce sum).

Gradients are combined here instead of by DistributedDataParallel: DDP would all-reduce the sparse
gradient of the puzzle-embedding table, which only the gloo backend supports (NCCL has no sparse
all-reduce). As the reference does, the touched rows and their gradients are all-gathered as dense
tensors and summed per row, which works on every backend.

With one process (no process group) every function here returns its input or does nothing.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class Processes:
    """This process's place among the processes of a run (rank 0 is the main process)."""

    rank: int = 0
    count: int = 1

    @classmethod
    def current(cls) -> "Processes":
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, total: int) -> slice:
        """This process's contiguous part of `total` rows (parts differ by at most one row)."""
        return slice(self.rank * total // self.count, (self.rank + 1) * total // self.count)

    def local_batch(self, global_batch: int) -> int:
        if global_batch % self.count:
            raise ValueError(f"the batch size ({global_batch}) is the global batch and must divide evenly "
                             f"over the {self.count} processes")
        return global_batch // self.count

    def offsets(self, counts: list[int]) -> slice:
        """Where this process's `counts[rank]` rows sit among everyone's, concatenated in rank order."""
        start = sum(counts[: self.rank])
        return slice(start, start + counts[self.rank])

    # -- collectives (every process must call them, in the same order) --------------------------

    def finish(self) -> None:
        """Leave the process group once every process is done with it: without the barrier a
        process could tear down its connections while another still completes the last collective."""
        if self.count == 1:
            return
        dist.barrier()
        dist.destroy_process_group()

    def gather_ints(self, value: int) -> list[int]:
        """One integer from each process, in rank order."""
        if self.count == 1:
            return [value]
        out: list[int | None] = [None] * self.count
        dist.all_gather_object(out, value)
        return out

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over processes of a few numbers (metrics, CPU seconds)."""
        if self.count == 1:
            return values
        out: list[list[float] | None] = [None] * self.count
        dist.all_gather_object(out, values)
        return [sum(column) for column in zip(*out)]

    def add_up(self, item: T) -> T:
        """Sum over processes of an object that supports + (e.g. evaluation tallies)."""
        if self.count == 1:
            return item
        out: list[T | None] = [None] * self.count
        dist.all_gather_object(out, item)
        return functools.reduce(operator.add, out)

    def any(self, flag: bool) -> bool:
        return any(self.gather_ints(int(flag)))

    def gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every process's `tensor` (the same shape everywhere), concatenated along dim 0 in rank order."""
        if self.count == 1:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.count)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def gather_ragged(self, tensor: torch.Tensor) -> torch.Tensor:
        """Like gather_rows, for tensors whose first dimension differs between processes."""
        if self.count == 1:
            return tensor
        sizes = self.gather_ints(tensor.shape[0])
        padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        parts = self.gather_rows(padded).split(max(sizes))
        return torch.cat([part[:size] for part, size in zip(parts, sizes)])

    def broadcast_weights(self, model: nn.Module) -> None:
        """Give every process the main process's parameters and buffers."""
        if self.count == 1:
            return
        with torch.no_grad():
            for tensor in model.state_dict().values():
                dist.broadcast(tensor, src=0)

    def sync_gradients(self, model: nn.Module, sparse_name: str = "puzzle_emb") -> None:
        """Replace each gradient by its sum over processes: the dense ones with one all-reduce of a
        flat buffer, the sparse row gradient of `sparse_name` by gathering rows (see the module note)."""
        if self.count == 1:
            return
        dense = [p for name, p in model.named_parameters() if name != sparse_name and p.grad is not None]
        if dense:
            flat = torch.cat([p.grad.reshape(-1) for p in dense])
            dist.all_reduce(flat)
            for p, part in zip(dense, flat.split([p.numel() for p in dense])):
                p.grad.copy_(part.view_as(p.grad))
        sparse = dict(model.named_parameters()).get(sparse_name)
        if sparse is not None and sparse.grad is not None:
            sparse.grad = self.sum_row_gradient(sparse.grad)

    def sum_row_gradient(self, grad: torch.Tensor) -> torch.Tensor:
        """The sum over processes of a row gradient (sparse COO, or dense with zero rows untouched),
        as a coalesced sparse tensor holding the rows any process touched."""
        local = (grad if grad.is_sparse else grad.to_sparse(1)).coalesce()
        rows = self.gather_ragged(local.indices()[0])
        values = self.gather_ragged(local.values())
        return torch.sparse_coo_tensor(rows.unsqueeze(0), values, grad.shape, check_invariants=True).coalesce()

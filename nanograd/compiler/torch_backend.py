"""The torch backend: the plan on float64 tensors on the batch's device, and TORCH_MATH.

torch has no floating-point traps, so the fast path checks that every number it computed
is finite (one reduction per register); anything else goes to the eager engine (see
:mod:`.arrays`). :data:`TORCH_MATH` is also the math namespace of the PyTorch bridge
(:mod:`nanograd.pytorch`), which imports it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import torch

from ..float_math import FLOAT_MATH
from .arrays import ArrayBackend
from .lowering import Array

#: The op table's math namespace for torch tensors: the torch function of the same name
#: for every function of :data:`nanograd.ops.FLOAT_MATH` (``exp``, ``log``, ..., ``xlogy``).
TORCH_MATH = SimpleNamespace(**{name: getattr(torch, name) for name in vars(FLOAT_MATH)})


class TorchBackend(ArrayBackend):
    """The plan on torch tensors (float64, on the batch's device), with TORCH_MATH."""

    name = "torch"
    math = TORCH_MATH

    def column(self, batch: Any) -> Array:
        if isinstance(batch, torch.Tensor):
            return batch.detach().to(torch.float64)
        return torch.as_tensor(batch, dtype=torch.float64)

    def asarray(self, data: Any, like: Array | None) -> Array:
        return torch.as_tensor(data, dtype=torch.float64, device=None if like is None else like.device)

    def index(self, data: Any, like: Array | None) -> Array:
        return torch.as_tensor(data, dtype=torch.long, device=None if like is None else like.device)

    def zeros(self, rows: int, cols: int, like: Array) -> Array:
        return torch.zeros(rows, cols, dtype=torch.float64, device=like.device)

    def join(self, parts: list[Array]) -> Array:
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def stack(self, parts: list[Array]) -> Array:
        """Tensors of one shape along a new second axis."""
        return torch.stack(parts, dim=1)

    def concat(self, parts: list[Array]) -> Array:
        if len(parts) == 1:
            return parts[0]
        rows = max(p.shape[0] for p in parts)
        return torch.cat([p.expand(rows, p.shape[1]) for p in parts], dim=1)

    def sum_rows(self, a: Array) -> Array:
        return a.sum(dim=0, keepdim=True)

    def sum_columns(self, a: Array) -> Array:
        return a.sum(dim=1, keepdim=True)

    def column_adder(self, cols: list[int], like: Array | None) -> Callable[[Array, Array], None]:
        index = self.index(cols, like)
        return lambda target, values: target.index_add_(1, index, values.expand(target.shape[0], -1))

    def take_columns(self, table: Array, cols: Array) -> Array:
        if table.shape[0] == 1:
            return table[0][cols]
        if cols.shape[0] == 1:
            return table[:, cols[0]]
        return torch.gather(table, 1, cols)

    def put_columns(self, like: Array, cols: Array, values: Array) -> Array:
        out = torch.zeros_like(like)
        cols, values = torch.broadcast_tensors(cols, values)  # type: ignore[no-untyped-call]
        if like.shape[0] == 1:  # one row for every sample: the samples' shares add up
            return out.index_add_(1, cols.reshape(-1), values.reshape(1, -1))
        return out.scatter_add_(1, cols, values)

    def whole_in_range(self, x: Array, n: int) -> Array:
        return (x >= 0) & (x < n) & (torch.floor(x) == x)

    def to_int(self, x: Array) -> Array:
        return x.to(torch.long)

    def finite_rows(self, a: Array) -> list[bool]:
        return torch.isfinite(a).all(dim=1).tolist()

    def true_rows(self, mask: Array) -> list[bool]:
        return mask.all(dim=1).tolist()  # type: ignore[no-any-return]

    def select_rows(self, a: Array, rows: list[int]) -> Array:
        return a[self.index(rows, a)]

    def device(self, like: Array | None) -> Any:
        return None if like is None else like.device

    def clean(self, inputs: list[Array], registers: list[Array], returned: list[Array]) -> bool:
        # One reduction per array and one transfer to the host for all of them.
        return bool(torch.stack([torch.isfinite(a).all() for a in inputs + registers]).all())

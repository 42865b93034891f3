"""Peak memory of the tensors a computation creates, counted in-process.

Resident set size is too noisy to compare two forwards (the allocator keeps freed pages,
other processes share the machine), so this counts what the forward itself holds: every
tensor an operator returns is tracked until its last Python reference is gone, views
sharing one storage count once, and the high-water mark of the bytes alive is the peak.
Tensors created before the measurement (inputs, parameters, buffers) are not counted.

It runs on any device, including ``meta``, where shapes propagate without computing: the
bytes counted are the same and a 512×512 DnCNN forward takes milliseconds.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveTensorBytes(TorchDispatchMode):
    """While active, ``live`` is the number of bytes in storages created by operators and
    still referenced from Python; ``peak`` its maximum."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._storages: dict[int, list[int]] = {}  # storage id → [bytes, references]

    def _release(self, key: int) -> None:
        entry = self._storages[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._storages[key]

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage._cdata
        entry = self._storages.get(key)
        if entry is None:
            entry = self._storages[key] = [storage.nbytes(), 0]
            self.live += entry[0]
            self.peak = max(self.peak, self.live)
        entry[1] += 1
        weakref.finalize(tensor, self._release, key)

    def __torch_dispatch__(  # type: ignore[override]
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self._track(leaf)
        return out


def peak_forward_bytes(run: Callable[[], Any]) -> int:
    """The peak bytes of tensors alive while ``run()`` executes, its result included,
    without gradients (inference)."""
    with torch.no_grad(), LiveTensorBytes() as tracker:
        result = run()
        del result
    return tracker.peak

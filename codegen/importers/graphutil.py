"""Graph ordering shared by the importers (Deep Learning Toolbox and MatConvNet).

Both importers reduce a network to layers in file order plus "layer j feeds layer i"
pairs; the IR wants the layers in an order where every producer comes first. Keeping one
implementation means both kinds of file get the same, predictable order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


def topological_order(count: int, edges: Iterable[tuple[int, int]]) -> list[int]:
    """Kahn's algorithm over layer indices 0..count-1, stable in the file's layer order.

    ``edges`` are (producer, consumer) index pairs. Of the layers whose inputs are all
    placed, the earliest in the file goes next, so a chain keeps its order and the
    generated ``forward`` reads like the MATLAB network. Layers on a cycle are left out:
    the caller compares the length with ``count`` and reports the cycle in its own terms.
    """
    indegree = [0] * count
    successors: list[list[int]] = [[] for _ in range(count)]
    for source, target in edges:
        successors[source].append(target)
        indegree[target] += 1
    ready = [i for i, degree in enumerate(indegree) if degree == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for target in successors[i]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    return order

"""Examples to show, drawn across classes.

Data sets often come sorted by class (the CIFAR-10 test set here is: airplanes first), so "the
first 8 images" are 8 airplanes. :func:`spread_examples` takes the classes in turn instead, each
class's images in a seeded random order, so the first ``C`` examples cover every class and a
different seed shows different images.
"""
from __future__ import annotations

import torch

from ..checks import require_positive_int


def spread_examples(labels, n: int, *, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` examples drawn across classes (seeded).

    Inputs:
        labels: ``(N,)`` integer class labels (tensor, array or list).
        n: how many indices (at most N).
        seed: the draw; the same seed gives the same examples.
    Returns:
        ``(n,)`` int64 indices into ``labels``: one example of every class in a random class
        order, then a second of every class, and so on (classes that run out are skipped).
    """
    require_positive_int(n, "n")
    labels = torch.as_tensor(labels).flatten()
    if labels.numel() < n:
        raise ValueError(f"예시 {n}개를 뽑기에는 데이터가 {labels.numel()}개뿐입니다.")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels는 정수 클래스 번호여야 합니다 (받은 dtype: {labels.dtype}).")
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    classes = classes[torch.randperm(len(classes), generator=g)]
    pools = []
    for c in classes:
        members = torch.nonzero(labels == c).flatten()
        pools.append(members[torch.randperm(len(members), generator=g)])
    picked, rank = [], 0
    while len(picked) < n:
        for pool in pools:
            if rank < len(pool):
                picked.append(int(pool[rank]))
                if len(picked) == n:
                    break
        rank += 1
    return torch.tensor(picked, dtype=torch.int64)

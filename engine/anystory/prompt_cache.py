"""Prompt embeddings kept in memory, so a re-render or variants of a panel skip the text encoders.

Keys are (composed prompt, engine fingerprint, text length): the fingerprint names the weights
and memory profile that made the embeddings, so no other configuration's embeddings are
reused. The least recently used entries leave first (a T5 embedding of FLUX.1-dev is 4 MiB in
bf16, so the default 32 entries hold at most 128 MiB).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class PromptCache(Generic[T]):
    """A small least-recently-used map from prompt keys to their embeddings."""

    def __init__(self, size: int = 32):
        self.size = size
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, encode: Callable[[], T]) -> T:
        """The embeddings of `key`, computed with `encode` only when not already kept."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = encode()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

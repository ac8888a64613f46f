"""Batches built in a background thread while the model trains on the current one (the data side of a
CPU step is memory-mapped reads and a little numpy; overlapping it keeps the data-wait share near 0)."""

from __future__ import annotations

import queue
import threading


class Prefetcher:
    """Builds the next batches in a background thread while the model trains on the current one."""

    def __init__(self, make, depth: int = 3) -> None:
        self.make, self.queue = make, queue.Queue(depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.make()
            except BaseException as error:  # handed to the trainer, which re-raises it (never a hang)
                item = error
            while not self.stop.is_set():
                try:
                    self.queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def get(self):
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

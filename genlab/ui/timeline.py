"""A bounded record of a run's frames, for scrubbing, stepping back and export (no Qt).

Memory bound: at most ``max_bytes`` of frame arrays (default 512 MiB) and ``max_frames``
frames (default 10,000); past either, the oldest frames are dropped and ``dropped`` counts
them, so indices shown to the user stay absolute frame numbers.
"""

from __future__ import annotations

from collections import deque

from genlab.labs.frame import Frame

DEFAULT_MAX_BYTES = 512 * 2**20
DEFAULT_MAX_FRAMES = 10_000


class Timeline:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_frames: int = DEFAULT_MAX_FRAMES) -> None:
        self.max_bytes = max_bytes
        self.max_frames = max_frames
        self._frames: deque[tuple[Frame, int]] = deque()
        self.nbytes = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> Frame:
        return self._frames[i][0]

    def __iter__(self):
        return (f for f, _ in self._frames)

    def append(self, frame: Frame) -> None:
        size = frame.nbytes
        self._frames.append((frame, size))
        self.nbytes += size
        while len(self._frames) > 1 and (
                self.nbytes > self.max_bytes or len(self._frames) > self.max_frames):
            _, old = self._frames.popleft()
            self.nbytes -= old
            self.dropped += 1

    def clear(self) -> None:
        self._frames.clear()
        self.nbytes = 0
        self.dropped = 0

    def frames(self, start: int = 0, stop: int | None = None) -> list[Frame]:
        stop = len(self) if stop is None else stop
        return [self[i] for i in range(max(start, 0), min(stop, len(self)))]

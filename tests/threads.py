"""Running a test's code in another thread and collecting what it raised (shared by tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_thread(target: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Start ``target`` in a new thread; the list receives any exception it raises."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors

"""Run a module as a child of `donorflow up` that does not outlive it.

    python -m donorflow.supervised PARENT_PID MODULE [ARGS ...]

`make up` starts the Prefect server and the served deployments in sessions of their own (a Ctrl-C in the
terminal reaches `donorflow up` only, which then stops them in order). If `donorflow up` itself dies
(SIGKILL, a closed terminal), nobody would stop them: they would hold their ports for ever. So each child
watches its parent. On Linux the kernel tells it at once (PR_SET_PDEATHSIG); everywhere, a thread notices
within a second that it was re-parented. The child then shuts down as on SIGTERM and, if that has not
finished after a grace period, kills its own process group (itself and the flow runs it started).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import runpy
import signal
import sys
import threading
import time

__all__ = ["GRACE_SECONDS", "arm_parent_death_signal", "main", "watch_parent"]

# A graceful stop of the runner or the server takes 1–5 s; after this the child's group is killed.
GRACE_SECONDS = 6.0
_PR_SET_PDEATHSIG = 1


def arm_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Linux: the kernel sends `sig` when the parent exits. False where prctl does not exist."""
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    return int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0


def _kill_own_group() -> None:
    # Only a group this process leads (start_new_session): never the parent's terminal group.
    if os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)


def watch_parent(
    parent: int, *, signalled: bool, interval: float = 0.5, grace: float = GRACE_SECONDS
) -> None:
    """Stop this process when `parent` is gone: SIGTERM (unless the kernel sent it), then the hard way."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        if not signalled:  # a second SIGTERM would cut the graceful stop short
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        _kill_own_group()

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def main(argv: list[str]) -> None:
    parent, module, *args = argv
    signalled = arm_parent_death_signal()
    if os.getppid() != int(parent):  # the parent died before the signal was armed
        sys.exit(1)
    watch_parent(int(parent), signalled=signalled)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A crash on request, to test that a killed run resumes exactly (tests and README use it).

    HRNET_KILL_AT=<point>:<n>[@<rank>]

makes the process (only the one of rank <rank>, when given) kill itself with SIGKILL the n-th
time it reaches <point>: `step` (after an optimisation step), `validation` (before a validation
batch) or `checkpoint` (a checkpoint, best.pth or final_state.pth fully written to its temporary
file but not yet renamed into place). Under torchrun it fires only in the first attempt
(TORCHELASTIC_RESTART_COUNT 0), so a restarted worker runs through.
"""

import os
import signal

from utils.errors import ConfigError

ENV = "HRNET_KILL_AT"
POINTS = ("step", "validation", "checkpoint")

_reached = {}


def _parse(spec):
    try:
        where, _, rank = spec.partition("@")
        point, count = where.split(":")
        count, rank = int(count), (int(rank) if rank else None)
        if point in POINTS and count >= 1:
            return point, count, rank
    except ValueError:
        pass
    raise ConfigError(
        f"{ENV}={spec!r}: expected <point>:<n>[@<rank>] with a point in {', '.join(POINTS)} "
        "and n >= 1"
    )


def reached(point):
    """Count one more arrival at `point`; SIGKILL this process if HRNET_KILL_AT asks for it."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, count, rank = _parse(spec)
    if target != point or os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") != "0":
        return
    if rank is not None and rank != int(os.environ.get("RANK", 0)):
        return
    _reached[point] = _reached.get(point, 0) + 1
    if _reached[point] == count:
        os.kill(os.getpid(), signal.SIGKILL)

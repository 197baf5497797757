"""One training job per run folder: an advisory lock on `<folder>/.train.lock` that the
operating system drops when the process ends, however it ends (a killed job leaves no stale
lock). Where the platform has no `fcntl` (Windows) or the file system no locks, nothing is
locked."""

import os
import socket

from utils.errors import ConfigError

LOCK_FILE = ".train.lock"


def lock_run_folder(folder):
    """Take the lock of `folder` (a Path, created if missing) for as long as the returned file
    object stays open; ConfigError naming the holder when another job has it."""
    try:
        import fcntl
    except ImportError:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ConfigError(
            f"{folder} is in use by another training job ({holder}); wait for it to end, stop "
            "it (torchrun's workers can outlive a killed torchrun: look for them with ps), or "
            "use another OUTPUT_DIR"
        ) from None
    except OSError:  # a file system without locks (some NFS mounts): nothing is locked
        return handle
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle

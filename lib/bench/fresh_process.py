"""Functions run in a fresh Python process, with its own allocator, threads and environment.

glibc's allocator options (`utils.allocator`), PyTorch's thread count and variables read at
start-up (MALLOC_*, OMP_*) are settings of a whole process, and a process keeps its peak memory:
comparing them needs one process per case. The processes are started with multiprocessing's
"spawn" method (a new interpreter, which inherits the environment and `sys.path`, nothing
else); functions and arguments travel pickled, so a function must be importable by name (defined
at module level).
"""

import multiprocessing
import os
import traceback
from contextlib import contextmanager

from utils.errors import UserError

__all__ = ["FreshProcess", "run_in_fresh_process"]


def _serve(connection, build, args, allocator, threads):
    """The child: set the process up, build `build(*args)`, then answer requests
    (method name or None for the built object itself, args, kwargs) until None arrives."""
    try:
        if allocator:
            from utils.allocator import set_allocator_options

            set_allocator_options()
        if threads:
            import torch

            torch.set_num_threads(threads)
        target = build(*args)
        connection.send(("ok", None))
        while (request := connection.recv()) is not None:
            method, call_args, call_kwargs = request
            function = target if method is None else getattr(target, method)
            connection.send(("ok", function(*call_args, **call_kwargs)))
    except UserError as error:  # a mistake the user can fix: the parent raises it as it is
        connection.send(("user error", error))
    except Exception:  # the parent raises it with this traceback
        connection.send(("error", traceback.format_exc()))


@contextmanager
def _environment(env):
    """`os.environ` updated with `env` inside the block (a spawned process starts with it)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


class FreshProcess:
    """A new process that builds `build(*args)` once and then answers calls of it.

    The child first sets `env` (variables added to this process's environment, set before the
    interpreter starts), `utils.allocator.set_allocator_options()` when `allocator` (False: glibc's
    defaults, as the original code runs) and `torch.set_num_threads(threads)` when `threads`.
    `process(*args)` calls the built object, `process.call(name, *args)` one of its methods;
    results come back pickled; an exception in the child is raised here as RuntimeError with
    the child's traceback, a `UserError` (a bad YAML, a missing file) as itself. Use as a
    context manager, or call `close()`.
    """

    def __init__(self, build, *args, env=None, allocator=True, threads=None, name=None):
        self.name = name or getattr(build, "__qualname__", repr(build))
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, build, args, allocator, threads), daemon=True
        )
        with _environment(env or {}):
            self.process.start()
        child.close()  # the child's end lives in the child: a dead child ends recv() here
        try:
            self._receive()
        except BaseException:
            self.kill()
            raise

    def _receive(self):
        try:
            status, value = self.connection.recv()
        except EOFError:
            self.process.join()
            raise RuntimeError(
                f"the process of {self.name!r} ended (exit code {self.process.exitcode})"
            ) from None
        if status == "user error":
            self.process.join()
            raise value
        if status == "error":
            self.process.join()
            raise RuntimeError(f"the process of {self.name!r} failed:\n{value}")
        return value

    def __call__(self, *args, **kwargs):
        """The built object called with these arguments, in the child."""
        self.connection.send((None, args, kwargs))
        return self._receive()

    def call(self, method, *args, **kwargs):
        """The built object's method `method` called with these arguments, in the child."""
        self.connection.send((method, args, kwargs))
        return self._receive()

    def close(self):
        """End the child and wait for it."""
        if self.process.is_alive():
            self.connection.send(None)
            self.process.join()
        self.connection.close()

    def kill(self):
        """Stop the child at once (after a failure)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_exc):
        if exc_type is None:
            self.close()
        else:
            self.kill()
        return False


def _itself(value):
    return value


def run_in_fresh_process(function, *args, env=None, allocator=True, threads=None, **kwargs):
    """`function(*args, **kwargs)` run in a new process set up as FreshProcess describes
    (`env`, `allocator`, `threads`); returns its result."""
    name = getattr(function, "__qualname__", repr(function))
    with FreshProcess(
        _itself, function, env=env, allocator=allocator, threads=threads, name=name
    ) as child:
        return child(*args, **kwargs)

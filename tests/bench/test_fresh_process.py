"""bench.fresh_process: functions run in a new process with the set-up they were given."""

import os

import pytest

from bench.fresh_process import FreshProcess, run_in_fresh_process

VARIABLE = "HRNET_BENCH_FRESH_PROCESS_TEST"


def test_the_child_sees_the_environment_it_was_given_and_returns_the_result():
    assert VARIABLE not in os.environ
    assert run_in_fresh_process(os.getenv, VARIABLE, env={VARIABLE: "given"}) == "given"
    assert VARIABLE not in os.environ  # this process's environment is left as it was
    assert run_in_fresh_process(os.getenv, VARIABLE) is None


def test_the_child_is_another_process_with_the_thread_count_it_was_given():
    import torch

    assert run_in_fresh_process(os.getpid, allocator=False) != os.getpid()
    threads = 1 if torch.get_num_threads() != 1 else 2
    assert run_in_fresh_process(torch.get_num_threads, threads=threads) == threads


def test_a_process_keeps_what_it_built_between_calls():
    with FreshProcess(list, allocator=False) as child:
        assert child.call("append", 1) is None
        child.call("extend", [2, 3])
        assert child.call("copy") == [1, 2, 3]


def test_an_exception_in_the_child_is_raised_with_its_traceback():
    with pytest.raises(RuntimeError, match="(?s)failed:.*ValueError: invalid literal"):
        run_in_fresh_process(int, "not a number", allocator=False)
    with pytest.raises(RuntimeError, match="AttributeError"):
        with FreshProcess(list, allocator=False) as child:
            child.call("no_such_method")


def test_a_users_mistake_in_the_child_is_raised_as_itself(tmp_path):
    from config import load_config
    from utils.errors import ConfigError

    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml does not exist"):
        run_in_fresh_process(load_config, str(missing), allocator=False)

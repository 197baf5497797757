import pytest

from utils import cli
from utils.cli import ArgumentParser, add_log_level_argument, run_tool, shown_path
from utils.errors import ConfigError, DataError, OtherProcessFailed


def fails_with(error):
    def main(argv):
        raise error

    return main


def test_user_error_is_one_line_with_status_2(capsys, monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    assert run_tool(fails_with(DataError("list.lst:3: label x.png has value 7")), []) == 2
    err = capsys.readouterr().err
    assert err == "error: list.lst:3: label x.png has value 7\n"


def test_debug_flag_and_environment_show_the_traceback(monkeypatch, capsys):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    seen = []

    def main(argv):
        seen.append(argv)
        raise ConfigError("bad key")

    assert run_tool(main, ["--cfg", "x.yaml", "--debug"]) == 2  # the status without --debug
    assert seen == [["--cfg", "x.yaml"]]
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise ConfigError("bad key")' in err
    assert err.endswith("error: bad key\n")
    monkeypatch.setenv("HRNET_DEBUG", "1")
    assert run_tool(fails_with(ConfigError("bad key")), []) == 2
    assert "Traceback" in capsys.readouterr().err


def test_other_exceptions_keep_their_traceback(monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    with pytest.raises(KeyError):
        run_tool(fails_with(KeyError("bug")), [])


def test_ctrl_c_is_one_line_with_status_130(capsys, monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    assert run_tool(fails_with(KeyboardInterrupt()), []) == 130
    assert capsys.readouterr().err == "error: interrupted (Ctrl-C)\n"
    with pytest.raises(KeyboardInterrupt):
        run_tool(fails_with(KeyboardInterrupt()), ["--debug"])


def test_main_status_passes_through():
    assert run_tool(lambda argv: 0, []) == 0


def test_shown_path_is_relative_under_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "experiments" / "x.yaml") == "experiments/x.yaml"
    assert shown_path("data/../data/x.lst") == "data/x.lst"
    assert (
        shown_path(tmp_path.parent / "elsewhere.pth")
        == (tmp_path.parent / "elsewhere.pth").as_posix()
    )


def test_underscore_spellings_are_aliases_of_hyphenated_flags():
    parser = ArgumentParser("tool")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--input-video")
    parser.add_argument("--keep_me", default="x")  # an underscore flag stays as it is
    parser.add_argument("opts", nargs="*")
    args = parser.parse_args(["--batch_size", "8", "--input_video=a b.mp4", "--keep_me", "y"])
    assert (args.batch_size, args.input_video, args.keep_me) == (8, "a b.mp4", "y")
    assert parser.parse_args(["--batch-size", "3"]).batch_size == 3
    # config overrides after the flags are left alone
    assert parser.parse_args(["TRAIN.BATCH_SIZE_PER_GPU", "2"]).opts == [
        "TRAIN.BATCH_SIZE_PER_GPU",
        "2",
    ]
    with pytest.raises(SystemExit):
        parser.parse_args(["--no_such_flag", "1"])


def test_help_keeps_the_line_breaks_of_the_examples():
    doc = "Do things.\n\n  python tools/x.py --a 1 \\\n      --b 2\n"
    parser = ArgumentParser(doc)
    parser.add_argument("--batch-size")
    text = parser.format_help()
    assert "  python tools/x.py --a 1 \\\n      --b 2\n" in text
    assert "--flag_name" in text  # the epilog says so, once
    assert "--batch-size BATCH_SIZE" in text and "--batch_size BATCH_SIZE" not in text


def test_log_level_flag():
    parser = ArgumentParser()
    add_log_level_argument(parser)
    assert parser.parse_args([]).log_level == "INFO"
    assert parser.parse_args(["--log_level", "debug"]).log_level == "DEBUG"
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-level", "loud"])


def test_processes_stopped_by_another_one_exit_quietly_and_last(capsys, monkeypatch):
    """They wait before exiting, so torchrun sees the process with the message end first."""
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    waits = []
    monkeypatch.setattr(cli.time, "sleep", waits.append)
    assert run_tool(fails_with(OtherProcessFailed("process 1 failed")), []) == 2
    assert capsys.readouterr().err == ""
    assert waits == [cli.QUIET_EXIT_DELAY_S] and cli.QUIET_EXIT_DELAY_S >= 1
    assert run_tool(fails_with(DataError("list.lst:3: bad")), []) == 2
    assert waits == [cli.QUIET_EXIT_DELAY_S]  # the failing process itself exits at once


def test_a_lost_peer_is_one_line_in_a_multi_process_job_only(capsys, monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    lost = RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:45198")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert run_tool(fails_with(lost), []) == 2
    assert capsys.readouterr().err == (  # on a line of its own: rank 0's bar may be mid-line
        "\nerror: process 1 lost the connection to another process of this job, which stopped "
        "or was killed (see its message)\n"
    )
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(RuntimeError):
        run_tool(fails_with(lost), [])

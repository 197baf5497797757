import pytest

from utils.cli import run_tool, shown_path
from utils.errors import ConfigError, DataError, UserError


def fails_with(error):
    def main(argv):
        raise error

    return main


def test_user_error_is_one_line_with_status_2(capsys, monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    assert run_tool(fails_with(DataError("list.lst:3: label x.png has value 7")), []) == 2
    err = capsys.readouterr().err
    assert err == "error: list.lst:3: label x.png has value 7\n"


def test_debug_flag_and_environment_show_the_traceback(monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    seen = []

    def main(argv):
        seen.append(argv)
        raise ConfigError("bad key")

    with pytest.raises(ConfigError):
        run_tool(main, ["--cfg", "x.yaml", "--debug"])
    assert seen == [["--cfg", "x.yaml"]]
    monkeypatch.setenv("HRNET_DEBUG", "1")
    with pytest.raises(UserError):
        run_tool(fails_with(ConfigError("bad key")), [])


def test_other_exceptions_keep_their_traceback(monkeypatch):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    with pytest.raises(KeyError):
        run_tool(fails_with(KeyError("bug")), [])


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

"""Console logging that cooperates with progress bars; bars only on terminals; --log-level."""

import io
import logging

from tqdm import tqdm

from utils import logger as run_logger
from utils.logger import ConsoleHandler, progress_bar, setup_logging


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_line_never_shares_the_bar_line():
    stream = Terminal()
    handler = ConsoleHandler(stream)
    log = logging.getLogger("test_logger.bar")
    log.addHandler(handler)
    log.propagate = False
    try:
        with tqdm(total=10, file=stream, desc="epoch 1/1", ncols=60, mininterval=0) as bar:
            bar.update(3)
            log.warning("Epoch: [1/1] Iter:[3/10]")
            bar.update(1)
    finally:
        log.removeHandler(handler)
    # each drawing of the bar starts at a carriage return; the log line is a line of its own
    lines = stream.getvalue().replace("\r", "\n").split("\n")
    assert "Epoch: [1/1] Iter:[3/10]" in lines
    assert not any("Iter:[3/10]" in line and "epoch 1/1" in line for line in lines)


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert progress_bar(range(3), desc="x").disable
    assert not run_logger.on_terminal()
    monkeypatch.setattr("sys.stderr", Terminal())
    assert not progress_bar(range(3), desc="x").disable
    assert progress_bar(range(3), enabled=False).disable  # ranks other than 0


def test_log_level_filters_console_and_file(tmp_path, capsys):
    log_file = setup_logging(tmp_path, "train", "run", level="WARNING")
    try:
        logging.getLogger("test_logger").info("an info line")
        logging.getLogger("test_logger").warning("a warning line")
    finally:
        setup_logging(tmp_path / "other", "train", "run")  # back to INFO for other tests
    text = log_file.read_text()
    assert "a warning line" in text and "an info line" not in text
    printed = capsys.readouterr().out
    assert "a warning line" in printed and "an info line" not in printed


def test_each_line_is_flushed():
    class Recorder(io.StringIO):
        flushed = ""

        def flush(self):
            Recorder.flushed = self.getvalue()

    stream = Recorder()
    handler = ConsoleHandler(stream)
    handler.emit(logging.makeLogRecord({"msg": "one line", "levelno": logging.INFO}))
    assert Recorder.flushed == "one line\n"

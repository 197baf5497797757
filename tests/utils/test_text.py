"""Text files as users write them: UTF-8 (with or without BOM), UTF-16 with BOM, GBK."""

import pytest

from utils.errors import DataError
from utils.text import load_json, read_text

TEXT = "道路 1 128 64 128\nbâtiment 2 70 70 70\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gbk"])
def test_known_encodings_are_read(tmp_path, encoding):
    text = TEXT if encoding != "gbk" else TEXT.replace("â", "a")
    path = tmp_path / "colorMap.txt"
    path.write_bytes(text.encode(encoding))
    assert read_text(path, "class table") == text


def test_undecodable_and_binary_files_name_the_file_and_the_problem(tmp_path):
    path = tmp_path / "train.lst"
    path.write_bytes(b"images/a.png labels/a.png\nimages/caf\xe9.png labels/b.png\n")
    with pytest.raises(
        DataError, match=r"list file .*train\.lst is neither UTF-8 nor GBK text: by"
    ):
        read_text(path, "list file")
    with pytest.raises(DataError, match="on line 2 fits neither; save it as UTF-8"):
        read_text(path, "list file")
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match=r"train\.lst is a binary file"):
        read_text(path, "list file")


def test_json_in_gbk_and_broken_json(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes('{"shapes": [{"label": "电线"}]}'.encode("gbk"))
    assert load_json(path) == {"shapes": [{"label": "电线"}]}
    path.write_text('{"shapes": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"JSON file .*a\.json is not valid JSON: "):
        load_json(path)
    with pytest.raises(DataError, match=r"JSON file .*b\.json does not exist"):
        load_json(tmp_path / "b.json")

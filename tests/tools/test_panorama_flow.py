"""The panorama flow of the README custom-data section, in small: panoramas -> crops -> lists ->
train -> predictions -> easy/hard report, each tool through its `main(argv)`, with the real
experiment YAML.
"""

import shutil

import cv2
import numpy as np

from helpers.model_specs import TINY_EXTRA
from helpers.paths import EXPERIMENTS, REPO
from helpers.tools import load_tool
from utils.colormap import ClassTable

analysisData = load_tool("analysisData")
analysisResult = load_tool("analysisResult")
generate_list = load_tool("generate_list")
preprocessPanorama = load_tool("preprocessPanorama")
test_tool = load_tool("test")
train = load_tool("train")

YAML = str(EXPERIMENTS / "panorama" / "train.yaml")
SMALL = [
    "MODEL.PRETRAINED", "", "WORKERS", "0", "TRAIN.IMAGE_SIZE", "[32, 32]", "TRAIN.BASE_SIZE", "32",
    "TRAIN.BATCH_SIZE_PER_GPU", "4", "TRAIN.END_EPOCH", "1", "TEST.IMAGE_SIZE", "[32, 32]",
    "TEST.BASE_SIZE", "32", "TEST.BATCH_SIZE_PER_GPU", "2", *TINY_EXTRA,
]  # fmt: skip


def write_store(folder, name, seed):
    """An equirectangular panorama and its colour label: ceiling, shelves and walls, ground."""
    table = ClassTable.from_file(REPO / "colorMap.txt")
    rng = np.random.default_rng(seed)
    ids = np.zeros((32, 64), np.uint8)
    ids[:8] = 1  # ceiling
    ids[8:24] = np.repeat(rng.choice([2, 10, 11, 13], 8), 8)  # wall and shelves, 8 columns each
    ids[24:] = 0  # ground
    colours = table.colors[table.ids_to_classes(ids)]  # RGB
    image = np.clip(colours + rng.normal(0, 8, colours.shape), 0, 255).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{name}.jpg"), image[..., ::-1])
    cv2.imwrite(str(folder / f"{name}.png"), colours[..., ::-1])


def test_panorama_flow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tools run from the repository root: colorMap.txt there
    shutil.copy(REPO / "colorMap.txt", "colorMap.txt")
    write_store(tmp_path / "raw" / "store1", "p0", 0)
    write_store(tmp_path / "raw" / "store2", "p1", 1)

    crop = ["--fov", "60", "--count", "6", "--width", "32", "--height", "32"]
    assert preprocessPanorama.main(["--root", "raw", *crop, "--seed", "0", "--quiet"]) == 0
    merge = tmp_path / "raw" / "merge"
    assert len(list((merge / "image").glob("*.jpg"))) == 12
    assert len(list((merge / "label").glob("*.png"))) == 12

    assert generate_list.main(["--data-dir", "raw/merge", "--seed", "0", "--quiet"]) == 0
    names = {s: (merge / f"{s}_list.txt").read_text().split() for s in ("train", "val", "test")}
    assert [len(names[s]) for s in ("train", "val", "test")] == [8, 2, 2]

    shutil.move(merge, tmp_path / "data" / "panorama")
    data = tmp_path / "data" / "panorama"
    assert analysisData.main(["--data-dir", "data/panorama", "--quiet"]) == 0
    assert (data / "class_statistics.csv").is_file()

    # The YAML as written: ROOT 'data/', lists 'data/panorama/*_list.txt', OUTPUT_DIR 'output'.
    assert train.main(["--cfg", YAML, "--device", "cpu", *SMALL]) == 0
    run = tmp_path / "output" / "panorama" / "train"
    assert (run / "final_state.pth").is_file()

    test_set = ["DATASET.TEST_SET", "data/panorama/test_list.txt"]
    assert test_tool.main(["--cfg", YAML, "--device", "cpu", *SMALL, *test_set]) == 0
    predictions = sorted(p.stem for p in (run / "test_results").glob("*.png"))
    assert predictions == sorted(names["test"])
    prediction = cv2.imread(str(run / "test_results" / f"{predictions[0]}.png"), -1)
    assert prediction.shape == (32, 32)
    assert set(np.unique(prediction)) <= set(ClassTable.from_file("colorMap.txt").ids.tolist())

    report = ["--data-dir", "data/panorama", "--pred-dir", str(run / "test_results")]
    report += ["--out-dir", "data/panorama/output", "--top-k", "1", "--quiet"]
    assert analysisResult.main(report) == 0
    assert (data / "output" / "scores.csv").read_text().count("\n") == 3
    for folder in ("easy", "hard"):
        assert len(list((data / "output" / folder).glob("*_compare.png"))) == 1


def test_a_perfect_prediction_scores_1(tmp_path):
    """test.py saves panorama predictions as raw ids, like the labels: identical files agree."""
    ids = np.array([[0, 2, 10, 40]] * 4, np.uint8)
    for folder in ("data/label", "data/image", "pred"):
        (tmp_path / folder).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "data/label/a.png"), ids)
    cv2.imwrite(str(tmp_path / "pred/a.png"), ids)
    cv2.imwrite(str(tmp_path / "data/image/a.jpg"), np.zeros((4, 4, 3), np.uint8))
    report = ["--data-dir", str(tmp_path / "data"), "--pred-dir", str(tmp_path / "pred")]
    report += ["--out-dir", str(tmp_path / "out"), "--color-map", str(REPO / "colorMap.txt")]
    assert analysisResult.main([*report, "--quiet"]) == 0
    assert "1,a,1.000000" in (tmp_path / "out" / "scores.csv").read_text()

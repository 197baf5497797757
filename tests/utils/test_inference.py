"""utils.inference: the panorama fork's import path re-exports its three functions only."""

import inference
import utils.inference


def test_the_fork_import_path_gives_the_inference_functions():
    names = ("batch_inference", "inference", "single_image_inference")
    assert utils.inference.__all__ == list(names)
    for name in names:
        assert getattr(utils.inference, name) is getattr(inference, name)
    public = {n for n in vars(utils.inference) if not n.startswith("_")}
    assert public == set(names)

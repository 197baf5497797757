"""The panorama fork's inference API and the Segmenter agree with the core Predictor."""

import cv2
import numpy as np
import pytest
import torch

import models
from datasets import palette_for
from helpers.model_specs import TINY_EXTRA, tiny_config
from helpers.tiny_run import spread_weights
from inference import (
    Predictor,
    Segmenter,
    batch_inference,
    default_preprocess_function,
    inference,
    single_image_inference,
)
from utils.colormap import ClassTable
from utils.errors import ConfigError, DataError
from utils.image_io import read_image
from utils.visualize import voc_palette

K = 5


def tiny_cfg(*opts, name="seg_hrnet"):
    return tiny_config(name, K, "DATASET.COLOR_MAP", "", *opts)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return spread_weights(models.build_model(tiny_cfg(), pretrained=False))


def images(count, height=32, width=48, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def reference(model, imgs, **settings):
    """Class maps and max probabilities of the core Predictor, whole image by default."""
    predictor = Predictor(model, K, **settings)
    batch = torch.stack([torch.from_numpy(default_preprocess_function(i)) for i in imgs])
    confidence, classes = predictor(batch).max(dim=1)
    return classes.numpy().astype(np.uint8), confidence.numpy()


def test_default_preprocess_is_rgb_imagenet_chw():
    image = np.array([[[0, 128, 255]]], dtype=np.uint8)  # B, G, R
    out = default_preprocess_function(image)
    expected = (np.array([1.0, 128 / 255, 0.0]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    assert out.shape == (3, 1, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 0], expected, rtol=1e-6)


def test_a_grey_or_rgba_image_is_one_clear_error():
    for shape in ((8, 8), (8, 8, 4)):
        with pytest.raises(DataError, match=rf"shape \({shape[0]}, {shape[1]}.*expected a BGR"):
            default_preprocess_function(np.zeros(shape, np.uint8))


def test_single_and_batch_inference_agree_with_predictor(model):
    imgs = images(2)
    classes, confidence = reference(model, imgs)
    single = single_image_inference(model, imgs[0])
    assert single.shape == (32, 48) and single.dtype == np.uint8
    np.testing.assert_array_equal(single, reference(model, imgs[:1])[0][0])

    labels = batch_inference(model, imgs)
    np.testing.assert_array_equal(labels, classes)
    labels, probability = batch_inference(model, np.stack(imgs), output_probability=True)
    np.testing.assert_array_equal(labels, classes)
    assert probability.shape == (2, 32, 48) and probability.dtype == np.float32
    np.testing.assert_allclose(probability, confidence, atol=1e-6)
    assert (probability >= 1 / K - 1e-6).all() and (probability <= 1).all()


def test_batch_inference_of_preprocessed_tensors(model):
    imgs = images(2)
    classes, _ = reference(model, imgs)
    tensors = [torch.from_numpy(default_preprocess_function(i)) for i in imgs]
    np.testing.assert_array_equal(
        batch_inference(model, tensors, preprocess_function=None), classes
    )


def logits_at_image_size(model, imgs, align_corners=False):
    """The bare model's logits bilinearly resized to the image size, computed here directly."""
    batch = torch.stack([torch.from_numpy(default_preprocess_function(i)) for i in imgs])
    with torch.no_grad():
        out = model(batch)
    return torch.nn.functional.interpolate(
        out, size=batch.shape[-2:], mode="bilinear", align_corners=align_corners
    ).numpy()


def test_preprocessed_chw_images_as_the_fork_passed_them(model):
    """The fork preprocessed first and passed float (3, H, W) arrays; uint8 BGR images go
    through the preprocess function; both give the same class maps."""
    imgs = images(2)
    classes, _ = reference(model, imgs)
    chw = [default_preprocess_function(i) for i in imgs]
    assert chw[0].dtype == np.float32 and chw[0].shape == (3, 32, 48)
    np.testing.assert_array_equal(single_image_inference(model, chw[0]), classes[0])
    np.testing.assert_array_equal(
        single_image_inference(model, torch.from_numpy(chw[1])), classes[1]
    )
    np.testing.assert_array_equal(batch_inference(model, chw), classes)
    np.testing.assert_array_equal(batch_inference(model, np.stack(chw)), classes)
    # a mixed list: the uint8 image is preprocessed, the float one is not preprocessed again
    np.testing.assert_array_equal(batch_inference(model, [imgs[0], chw[1]]), classes)


def test_later_api_max_probability_and_raw(model):
    imgs = images(2)
    chw = [default_preprocess_function(i) for i in imgs]
    logits = logits_at_image_size(model, imgs)
    labels, probability, raw = batch_inference(
        model, chw, output_max_probability=True, output_raw=True
    )
    assert raw.shape == (2, K, 32, 48) and raw.dtype == np.float32
    np.testing.assert_allclose(raw, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, logits.argmax(axis=1))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probability, softmax.max(axis=1), atol=1e-6)

    only_probability = batch_inference(model, chw, output_max_probability=True)
    assert len(only_probability) == 2
    np.testing.assert_array_equal(only_probability[1], probability)
    # the seed-era keyword is the same switch
    np.testing.assert_array_equal(
        batch_inference(model, chw, output_probability=True)[1], probability
    )
    # output_raw alone: class maps and raw scores (the fork returned the class maps alone)
    labels_only_raw, raw_only = batch_inference(model, chw, output_raw=True)
    np.testing.assert_array_equal(labels_only_raw, labels)
    np.testing.assert_array_equal(raw_only, raw)


def test_segmenter_raw_scores_are_log_probabilities(model):
    cfg = tiny_cfg("TEST.SCALE_LIST", "[0.75, 1.0]", "TEST.FLIP_TEST", "True")
    segmenter = Segmenter.from_config(cfg, model, device="cpu", exact=True)
    imgs = images(2)
    _, confidence = reference(model, imgs, align_corners=True, scales=(0.75, 1.0), flip=True)
    labels, probability, raw = batch_inference(
        segmenter, imgs, output_max_probability=True, output_raw=True
    )
    np.testing.assert_allclose(np.exp(raw).sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.exp(raw).max(axis=1), confidence, atol=1e-5)
    np.testing.assert_array_equal(raw.argmax(axis=1), labels)
    np.testing.assert_allclose(probability, confidence, atol=1e-6)


def test_batch_inference_rejects_mixed_sizes(model):
    with pytest.raises(ValueError, match="one size"):
        batch_inference(model, images(1) + images(1, 48, 32))


def test_bare_ocr_model_uses_the_main_output():
    torch.manual_seed(0)
    ocr = spread_weights(models.build_model(tiny_cfg(name="seg_hrnet_ocr"), pretrained=False))
    imgs = images(1)
    classes, _ = reference(ocr, imgs, align_corners=True)
    np.testing.assert_array_equal(
        single_image_inference(ocr, imgs[0], align_corners=True), classes[0]
    )


def test_inference_writes_class_pngs_non_ascii(model, tmp_path):
    imgs = images(2)
    inputs = [tmp_path / "输入" / f"图{i}.png" for i in range(2)]
    inputs[0].parent.mkdir()
    for path, image in zip(inputs, imgs, strict=True):
        path.write_bytes(cv2.imencode(".png", image)[1].tobytes())
    outputs = [tmp_path / "输出" / "deep" / f"{i}.png" for i in range(2)]
    calls = []

    def preprocess(image):
        calls.append(image.shape)
        return default_preprocess_function(image)

    inference(
        model, {"input_list": inputs, "output_list": outputs, "preprocess_function": preprocess}
    )
    classes, _ = reference(model, imgs)
    assert len(calls) == 2
    for path, expected in zip(outputs, classes, strict=True):
        written = read_image(path)
        np.testing.assert_array_equal(written[..., 0], expected)


def test_segmenter_matches_predictor_with_scales_flip_and_windows(model):
    cfg = tiny_cfg(
        "TEST.SCALE_LIST", "[0.75, 1.25]", "TEST.FLIP_TEST", "True", "TEST.IMAGE_SIZE", "[32, 24]"
    )
    segmenter = Segmenter.from_config(cfg, model, device="cpu", batch_size=2, exact=True)
    imgs = images(2)
    classes, confidence = reference(
        model,
        imgs,
        align_corners=True,
        scales=(0.75, 1.25),
        flip=True,
        crop_size=(24, 32),
        policy="cityscapes",  # the config's dataset's
    )
    got_classes, got_confidence = segmenter(imgs)
    np.testing.assert_array_equal(np.stack(got_classes), classes)
    np.testing.assert_allclose(np.stack(got_confidence), confidence, atol=1e-5)
    # the API functions take a Segmenter as the network
    np.testing.assert_array_equal(batch_inference(segmenter, imgs), classes)


def test_segmenter_runs_small_images_whole(model):
    cfg = tiny_cfg("TEST.IMAGE_SIZE", "[512, 256]")
    segmenter = Segmenter.from_config(cfg, model, device="cpu", exact=True)
    imgs = images(2)
    # no padding up to the 256x512 crop; MODEL.ALIGN_CORNERS defaults to True
    classes, confidence = reference(model, imgs, align_corners=True)
    got_classes, got_confidence = segmenter(imgs)
    np.testing.assert_array_equal(np.stack(got_classes), classes)
    np.testing.assert_allclose(np.stack(got_confidence), confidence, atol=1e-6)


def test_segmenter_refuses_the_squash_evaluation_mode(model):
    with pytest.raises(ConfigError, match="TEST.RESIZE squash is an evaluation mode"):
        Segmenter.from_config(tiny_cfg("TEST.RESIZE", "squash"), model, device="cpu")


def test_segmenter_keeps_order_of_mixed_sizes(model):
    segmenter = Segmenter(Predictor(model, K, max_batch=2))
    imgs = [*images(1, 32, 48, 1), *images(2, 48, 32, 2), *images(2, 32, 48, 3)]
    class_maps, confidences = segmenter(imgs)
    assert [c.shape for c in class_maps] == [i.shape[:2] for i in imgs]
    for image, class_map, confidence in zip(imgs, class_maps, confidences, strict=True):
        classes, conf = reference(model, [image])
        np.testing.assert_array_equal(class_map, classes[0])
        np.testing.assert_allclose(confidence, conf[0], atol=1e-4)  # batch size changes rounding


def test_segmenter_from_files(model, tmp_path):
    weights = tmp_path / "final_state.pth"
    torch.save({f"model.{k}": v for k, v in model.state_dict().items()}, weights)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text("DATASET:\n  NUM_CLASSES: 5\n  COLOR_MAP: ''\n", encoding="utf-8")
    segmenter = Segmenter.from_files(cfg_file, weights, TINY_EXTRA, device="cpu", exact=True)
    imgs = images(1)
    np.testing.assert_array_equal(
        segmenter(imgs)[0][0], reference(model, imgs, align_corners=True)[0][0]
    )
    with pytest.raises(ValueError, match="TEST.MODEL_FILE"):
        Segmenter.from_files(cfg_file, None, TINY_EXTRA, device="cpu", exact=True)


def test_palette_from_color_map_when_it_fits(tmp_path):
    table = tmp_path / "colors.txt"
    table.write_text("".join(f"c{i} {i * 2} {i} 20 30\n" for i in range(K)), encoding="utf-8")
    palette = palette_for(tiny_cfg("DATASET.COLOR_MAP", str(table)))
    np.testing.assert_array_equal(palette, ClassTable.from_file(table).palette())
    other = palette_for(tiny_cfg("DATASET.COLOR_MAP", str(table), "DATASET.NUM_CLASSES", "7"))
    np.testing.assert_array_equal(other, voc_palette())


def test_default_segmenter_runs_an_optimised_copy(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = Segmenter.from_config(tiny_cfg(), model, device="cpu")  # bf16 autocast on the CPU
    exact = Segmenter.from_config(tiny_cfg(), model, device="cpu", exact=True)
    imgs = images(2)
    fast_classes, fast_confidence = fast(imgs)
    exact_classes, exact_confidence = exact(imgs)
    assert (np.stack(fast_classes) == np.stack(exact_classes)).mean() > 0.9
    assert np.abs(np.stack(fast_confidence) - np.stack(exact_confidence)).mean() < 0.02
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])  # the caller's model is left as it was

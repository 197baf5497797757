"""How the original datasets prepared a test image (mode "test": tools/test.py, the deploy
evaluation, the demo's evaluation) before the multi-scale prediction.

- `SquashTestImage` (LIP): the image is resized to the crop, aspect not kept, as the original
  LIP `testval`; the prediction is resized back to the label.
- `ShortSideTestImage` (ADE20K, COCO-Stuff): the short side is resized to the base size and the
  bottom / right padded with the mean colour to a multiple of 8, as the original `testval`
  (`resize_short_length`); COCO-Stuff cuts the padding off the prediction, ADE20K does not (the
  original's quirk: its prediction is stretched over the padding).

`prediction_crop(size)` gives the part of the prediction that shows the source image of
`size` (h, w); None for the whole prediction.
"""

from .transforms import fit_short_side, resize_image, short_side_size

FIT_STRIDE = 8


class SquashTestImage:
    """Mode "test": the image resized to `crop_size` (aspect not kept)."""

    def __getitem__(self, index):
        image, label, size, name = super().__getitem__(index)
        if self.mode == "test":
            image = resize_image(image, self.crop_size)
        return image, label, size, name

    def prediction_crop(self, size):
        return None


class ShortSideTestImage:
    """Mode "test": short side to `base_size`, padded to a multiple of 8 with the mean colour."""

    crop_test_padding = True  # cut the padding off the prediction

    def __getitem__(self, index):
        image, label, size, name = super().__getitem__(index)
        if self.mode == "test":
            image = fit_short_side(image, self.base_size, FIT_STRIDE)
        return image, label, size, name

    def prediction_crop(self, size):
        if not self.crop_test_padding:
            return None
        return short_side_size(*size, self.base_size)

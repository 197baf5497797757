"""How the original LIP prepared a test image (mode "test": tools/test.py, the deploy evaluation,
the demo's evaluation) before the multi-scale prediction: `SquashTestImage` resizes it to the
crop, aspect not kept, as the original LIP `testval`; the prediction is resized back to the label.

(The short-side preparation of ADE20K, COCO-Stuff and PASCAL-Context is
`BaseDataset.short_side`.)
"""

from .transforms import resize_image


class SquashTestImage:
    """Mode "test": the image resized to `crop_size` (aspect not kept)."""

    def __getitem__(self, index):
        image, label, size, name = super().__getitem__(index)
        if self.mode == "test":
            image = resize_image(image, self.crop_size)
        return image, label, size, name

    def prediction_crop(self, size):
        return None

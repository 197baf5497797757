"""Image geometry shared by training crops, test images and the predictor."""

__all__ = ["scaled_size"]


def scaled_size(height, width, long_side):
    """(height, width) resized so that the long side is `long_side`, aspect kept (as the
    original `multi_scale_aug`: the other side rounded half up)."""
    if height > width:
        return long_side, max(1, int(width * long_side / height + 0.5))
    return max(1, int(height * long_side / width + 0.5)), long_side

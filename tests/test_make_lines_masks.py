"""make_lines(return_masks=True): the per-pixel targets of the segmentation example."""
import numpy as np
import pytest

from tinygrad_conv.data import make_lines


def test_masks_mark_exactly_the_line_and_leave_X_and_y_unchanged():
    X, y, masks = make_lines(300, size=12, noise=0.5, seed=4, return_masks=True)
    X0, y0 = make_lines(300, size=12, noise=0.5, seed=4)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert masks.shape == (300, 12, 12) and masks.dtype == np.int64
    clean, _, _ = make_lines(300, size=12, noise=0.0, seed=4, return_masks=True)
    np.testing.assert_array_equal(masks, clean[:, 0].astype(np.int64))  # without noise the image IS the mask
    assert (masks.sum(axis=(1, 2)) == 3 * 12).all()  # a 3-pixel wide line across the image
    vertical = masks.all(axis=1).sum(axis=1) == 3  # three full columns
    np.testing.assert_array_equal(vertical, y == 1)


def test_return_masks_must_be_a_bool():
    with pytest.raises(TypeError, match="make_lines: return_masks must be a bool, got str 'yes'"):
        make_lines(3, return_masks="yes")

"""corrupt_objects: misses, spurious objects and box noise at the rates and
scales its arguments give."""
import numpy as np
import pytest

from mmmrmllm.text import corrupt_objects

BOXES = np.array([[0.1, 0.2, 0.2, 0.6], [0.4, 0.4, 0.8, 0.5]])
LABELS = np.array([1, 2])


def test_without_noise_a_copy():
    rng = np.random.default_rng(0)
    boxes, labels = corrupt_objects(rng, BOXES.tolist(), [1, 2], 3, drop=0,
                                    add=0, jitter=0)
    assert boxes.dtype == np.float64 and labels.dtype == np.int64
    np.testing.assert_array_equal(boxes, BOXES)
    np.testing.assert_array_equal(labels, LABELS)


def test_drop_and_add_rates():
    rng = np.random.default_rng(1)
    kept = added = 0
    for _ in range(2000):
        boxes, labels = corrupt_objects(rng, BOXES, LABELS, 3, drop=0.3,
                                        add=0.2, jitter=0)
        originals = [i for i, b in enumerate(BOXES)
                     if any(np.array_equal(b, x) for x in boxes)]
        kept += len(originals)
        extra = len(boxes) - len(originals)
        assert extra in (0, 1) and len(labels) == len(boxes)
        if extra:
            added += 1
            x1, y1, x2, y2 = boxes[-1]
            assert 0 <= labels[-1] < 3
            if min(x1, y1) > 0 and max(x2, y2) < 1:  # not clipped
                assert x2 - x1 == pytest.approx(y2 - y1)  # a square
                assert 0.08 <= x2 - x1 <= 0.5 + 1e-9
                assert 0.1 <= (x1 + x2) / 2 <= 0.9
                assert 0.1 <= (y1 + y2) / 2 <= 0.9
        assert labels[:len(originals)].tolist() == LABELS[originals].tolist()
    assert kept / 4000 == pytest.approx(0.7, abs=0.03)
    assert added / 2000 == pytest.approx(0.2, abs=0.03)
    # every object dropped, one always added
    boxes, labels = corrupt_objects(rng, BOXES, LABELS, 3, drop=1.0,
                                    add=1.0)
    assert boxes.shape == (1, 4) and labels.shape == (1, )


def test_jitter_scales_with_the_box_and_stays_in_the_image():
    rng = np.random.default_rng(2)
    deltas = np.stack([
        corrupt_objects(rng, BOXES, LABELS, 3, drop=0, add=0,
                        jitter=0.05)[0] - BOXES for _ in range(3000)])
    size = np.tile(BOXES[:, 2:] - BOXES[:, :2], 2)
    # a normal of standard deviation jitter * the box's width / height
    np.testing.assert_allclose(deltas.std(axis=0), 0.05 * size, rtol=0.1)
    np.testing.assert_allclose(deltas.mean(axis=0), 0, atol=0.003)
    # defaults: 10 % misses, 10 % spurious objects, 5 % jitter
    counts = [len(corrupt_objects(rng, BOXES, LABELS, 3)[0])
              for _ in range(3000)]
    assert np.mean(counts) == pytest.approx(2 * 0.9 + 0.1, abs=0.05)
    edge, _ = corrupt_objects(rng, [[0.0, 0.0, 1.0, 1.0]] * 50, [0] * 50,
                              3, drop=0, add=0, jitter=0.5)
    assert edge.min() == 0.0 and edge.max() == 1.0

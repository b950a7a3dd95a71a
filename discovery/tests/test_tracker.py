"""Threshold, K-in-a-row, re-suggestion and dwell with a fake clock (seconds as floats)."""

from discovery.detectors.base import Detection
from discovery.tracker import Tracker


def seen(pid, score=0.8):
    return Detection(pid, score, (0.1, 0.1, 0.3, 0.5), True)


def tracker(**kwargs):
    return Tracker(**{"threshold": 0.3, "consecutive": 2, "resuggest": 30, "dwell": 3, **kwargs})


def test_a_product_is_suggested_after_k_samples_in_a_row_and_once():
    t = tracker()
    assert t.observe([seen(1)], 0).suggest == []
    assert [d.product_id for d in t.observe([seen(1)], 1).suggest] == [1]
    assert t.observe([seen(1)], 2).suggest == []  # still on screen: not again


def test_a_miss_resets_the_streak():
    t = tracker(consecutive=3)
    t.observe([seen(1)], 0)
    t.observe([seen(1)], 1)
    t.observe([], 2)
    assert t.observe([seen(1)], 3).on_screen == []
    t.observe([seen(1)], 4)
    assert [d.product_id for d in t.observe([seen(1)], 5).suggest] == [1]


def test_scores_under_the_threshold_do_not_count():
    t = tracker()
    for now in range(5):
        assert t.observe([seen(1, score=0.2)], now).on_screen == []


def test_the_same_product_is_not_suggested_again_within_the_debounce():
    t = tracker(resuggest=30)
    t.observe([seen(1)], 0)
    assert t.observe([seen(1)], 1).suggest
    t.observe([], 2)  # off screen, then back
    t.observe([seen(1)], 3)
    assert t.observe([seen(1)], 4).suggest == []
    t.observe([], 40)
    t.observe([seen(1)], 41)
    assert t.observe([seen(1)], 42).suggest  # 41 s after the first suggestion


def test_dwell_lists_products_on_screen_long_enough_longest_first():
    t = tracker(dwell=3)
    t.observe([seen(1)], 0)
    t.observe([seen(1), seen(2)], 1)
    assert t.observe([seen(1), seen(2)], 2).dwelled == []
    assert [d.product_id for d in t.observe([seen(1), seen(2)], 3).dwelled] == [1]
    assert [d.product_id for d in t.observe([seen(2), seen(1)], 4).dwelled] == [1, 2]

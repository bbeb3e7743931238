"""Which training images each epoch visits (no TensorFlow needed)."""
import math

import numpy as np
import pytest

from fanqc_gui.core.training.training_loop import FULL_EPOCHS, EpochPlan


def test_first_epochs_visit_every_image_once_in_a_new_order():
    plan = EpochPlan(100, epochs=4, batch_size=32, hard_fraction=0.5, seed=1)
    never = np.full(100, np.inf, np.float32)
    first, second = plan.order(0, never), plan.order(1, np.zeros(100, np.float32))
    assert FULL_EPOCHS == 2
    assert sorted(first) == sorted(second) == list(range(100))
    assert not np.array_equal(first, second)


def test_later_epochs_visit_the_given_share_mostly_the_hard_images():
    n = 1000
    plan = EpochPlan(n, epochs=4, batch_size=32, hard_fraction=0.5, seed=0)
    assert plan.sizes == [n, n, n // 2, n // 2]
    assert plan.batches == [32, 32, 16, 16] and plan.total_steps == 96 and plan.total_images == 3 * n
    losses = np.linspace(0.0, 1.0, n).astype(np.float32)  # image i is harder than image i - 1
    drawn = np.zeros(n)
    for _ in range(50):
        order = plan.order(2, losses)
        assert len(order) == len(set(order.tolist())) == n // 2  # no image twice within an epoch
        drawn[order] += 1
    hardest, easiest = drawn[-100:].mean() / 50, drawn[:100].mean() / 50
    assert hardest > 0.9 and easiest < 0.05
    assert drawn[:100].sum() > 0  # easy images are still drawn now and then


def test_fraction_one_is_the_classic_recipe():
    plan = EpochPlan(50, epochs=3, batch_size=8, hard_fraction=1.0)
    assert plan.sizes == [50, 50, 50] and plan.batches == [math.ceil(50 / 8)] * 3
    assert sorted(plan.order(2, np.linspace(0, 1, 50))) == list(range(50))


def test_images_never_trained_on_make_the_epoch_a_random_one():
    plan = EpochPlan(40, epochs=3, batch_size=8, hard_fraction=0.5)
    losses = np.full(40, np.inf, np.float32)  # e.g. the first epochs were cut short
    order = plan.order(2, losses)
    assert len(order) == 20 and len(set(order.tolist())) == 20


@pytest.mark.parametrize("fraction", [0.001, 0.999])
def test_every_epoch_visits_at_least_one_image_and_at_most_all(fraction):
    plan = EpochPlan(10, epochs=3, batch_size=4, hard_fraction=fraction)
    assert 1 <= plan.sizes[2] <= 10

"""The chunk intake's batch sizes: all uploads being read share one memory budget."""

from contextlib import ExitStack

from weighbridge.services.chunk_intake import (
    BATCH_BUDGET_BYTES,
    MAX_BATCH_BYTES,
    MIN_BATCH_BYTES,
    _BatchBudget,
)


def test_one_upload_gets_the_largest_batch() -> None:
    budget = _BatchBudget()
    with budget.reading():
        assert budget.batch_bytes() == MAX_BATCH_BYTES


def test_batches_shrink_so_all_uploads_fit_the_budget() -> None:
    budget = _BatchBudget()
    with budget.reading(), budget.reading(), budget.reading(), budget.reading():
        size = budget.batch_bytes()
        assert size < MAX_BATCH_BYTES
        assert 4 * 2 * size <= BATCH_BUDGET_BYTES  # each upload holds at most two batches


def test_many_uploads_never_go_below_the_floor() -> None:
    budget = _BatchBudget()
    with ExitStack() as stack:
        for _ in range(1000):
            stack.enter_context(budget.reading())
        assert budget.batch_bytes() == MIN_BATCH_BYTES


def test_a_finished_or_failed_upload_gives_its_share_back() -> None:
    budget = _BatchBudget()
    with budget.reading():
        alone = budget.batch_bytes()
        try:
            with budget.reading():
                raise RuntimeError("client hung up")
        except RuntimeError:
            pass
        assert budget.readers == 1
        assert budget.batch_bytes() == alone
    assert budget.readers == 0

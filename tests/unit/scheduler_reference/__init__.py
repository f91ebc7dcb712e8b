"""The scheduler as it was before its fast paths (commit 8200fe2, verbatim but for import paths): the
straightforward reference that tests/unit/test_scheduler_fast_path.py compares placements against."""

"""Rollout revisions (controllers/revisions.py): numbered as Kubernetes numbers them, stable when the store's
history of the object forgets old versions, trimmed to revisionHistoryLimit."""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.controllers.revisions import Revisions, template_hash, template_of
from orchestrator.store import Record


def deploy(image: str, replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, **spec,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def history(*values: dict[str, Any] | None) -> list[Record]:
    """Store records of one key, oldest given first (None: a deletion), returned newest first as the store does."""
    recs = [Record("deploy/web", v or {}, i + 1, 1, i + 1, deleted=v is None) for i, v in enumerate(values)]
    return list(reversed(recs))


def numbers(r: Revisions) -> list[tuple[int, str]]:
    return [(x.number, x.template["spec"]["containers"][0]["image"]) for x in r.items]


def test_each_template_change_is_the_next_revision_and_a_scale_is_not() -> None:
    r = Revisions().fold(history(deploy("a:1"), deploy("a:1", 5), deploy("a:2", 5), deploy("a:3")), 10, 0)
    assert numbers(r) == [(1, "a:1"), (2, "a:2"), (3, "a:3")]
    assert r.seen == 4
    assert r.current is not None and r.current.hash == template_hash(template_of(deploy("a:3")))


def test_numbers_do_not_shift_once_the_store_forgot_the_first_versions() -> None:
    r = Revisions().fold(history(deploy("a:1"), deploy("a:2")), 10, 0)
    # later: the store kept only the newest versions (scales pushed the first ones out), and one more change
    kept = [Record("deploy/web", deploy("a:2", n), 10 + n, 1, 10 + n) for n in range(5)]
    kept.append(Record("deploy/web", deploy("a:3"), 20, 1, 20))
    r = r.fold(list(reversed(kept)), 10, 0)
    assert numbers(r) == [(1, "a:1"), (2, "a:2"), (3, "a:3")]
    assert r.fold(list(reversed(kept)), 10, 0) == r  # folding again changes nothing


def test_going_back_to_an_old_template_moves_it_to_the_next_number() -> None:
    r = Revisions().fold(history(deploy("a:1"), deploy("a:2"), deploy("a:3"), deploy("a:1")), 10, 0)
    assert numbers(r) == [(2, "a:2"), (3, "a:3"), (4, "a:1")]
    assert r.previous() is not None and r.previous().number == 3  # type: ignore[union-attr]


def test_revision_history_limit_keeps_that_many_old_revisions_beside_the_current_one() -> None:
    r = Revisions().fold(history(*(deploy(f"a:{i}") for i in range(1, 6))), 2, 0)
    assert numbers(r) == [(3, "a:3"), (4, "a:4"), (5, "a:5")]
    r = Revisions().fold(history(*(deploy(f"a:{i}") for i in range(1, 4))), 0, 0)
    assert numbers(r) == [(3, "a:3")]
    assert r.previous() is None


def test_a_deleted_and_recreated_object_counts_from_one_again() -> None:
    r = Revisions().fold(history(deploy("a:1"), deploy("a:2"), None, deploy("b:1")), 10, 0)
    assert numbers(r) == [(1, "b:1")]


def test_the_change_cause_annotation_is_recorded_and_the_template_hash_ignores_spelling() -> None:
    d = deploy("a:2")
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "bump to a:2"}
    r = Revisions().fold(history(deploy("a:1"), d), 10, 0)
    assert [x.cause for x in r.items] == ["", "bump to a:2"]
    one, two = deploy("a:1"), deploy("a:1")
    one["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "0.5"}}
    two["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "500m"}}
    assert template_hash(template_of(one)) == template_hash(template_of(two))


def test_previous_skips_failed_revisions_when_asked_and_round_trips_through_a_dict() -> None:
    r = Revisions().fold(history(deploy("a:1"), deploy("a:2"), deploy("a:3")), 10, 0).mark_failed(2)
    assert r.previous().number == 2  # type: ignore[union-attr]
    assert r.previous(skip_failed=True).number == 1  # type: ignore[union-attr]
    assert Revisions.from_dict(copy.deepcopy(r.to_dict())) == r

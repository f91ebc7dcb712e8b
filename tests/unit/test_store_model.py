"""A hypothesis state machine drives a store (the SQLite file, then a real etcd) and a plain-dict model with
the same random puts, deletes and transactions (some with stale revisions), and checks they agree on every
read, on the revisions, on history and on the watch log."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from orchestrator.errors import ConflictError
from orchestrator.store import Check, Delete, Put, Record
from tests.store_backends import BACKENDS, make

pytestmark = pytest.mark.timeout(120)

KEYS = st.sampled_from(["pod/a", "pod/b", "pod/ab", "rc/a", "svc/a", "_meta/x"])
VALUES = st.dictionaries(st.sampled_from(["n", "s"]), st.integers(0, 3) | st.text(max_size=3), max_size=2)
# how a write states its expectation: unconditional, create-only, the current revision, or a guess (counted
# from the store's revision when the machine started)
EXPECT = st.sampled_from(["any", "absent", "current"]) | st.integers(1, 40)
HISTORY_LIMIT = 3


@dataclass
class Model:
    base: int = 0  # the store's revision before the machine wrote
    revision: int = 0
    live: dict[str, Record] = field(default_factory=dict)
    history: dict[str, list[Record]] = field(default_factory=dict)  # oldest first
    log: list[tuple[str, Record]] = field(default_factory=list)

    def expect(self, key: str, how: Any) -> int | None:
        if how == "any":
            return None
        if how == "absent":
            return 0
        if how == "current":
            return self.live[key].revision if key in self.live else 0
        return self.base + int(how)

    def holds(self, key: str, expect: int | None) -> bool:
        actual = self.live[key].revision if key in self.live else None
        return expect is None or actual == expect or (expect == 0 and actual is None)

    def apply(self, ops: list[Put | Delete | Check]) -> bool:
        """Apply like the store would; False (and nothing changed) on a failed compare."""
        if not all(self.holds(op.key, op.expect_revision) for op in ops):
            return False
        rev = self.revision + 1
        changed = False
        for op in ops:
            old = self.live.get(op.key)
            if isinstance(op, Put):
                rec = Record(
                    op.key, op.value, rev, old.create_revision if old else rev, old.version + 1 if old else 1
                )
                self.live[op.key] = rec
            elif isinstance(op, Delete) and old is not None:
                del self.live[op.key]
                rec = Record(op.key, {}, rev, 0, 0, deleted=True)
            else:
                continue
            self.history.setdefault(op.key, []).append(rec)
            self.log.append(("DELETE" if rec.deleted else "PUT", rec))
            changed = True
        if changed:
            self.revision = rev
        return True


class StoreMachine(RuleBasedStateMachine):
    def __init__(self, backend: str, etcd: Any) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="orc-store-model-")
        self.store = make(backend, Path(self.dir) if backend == "sqlite" else etcd).open(history_limit=HISTORY_LIMIT)
        base = self.store.revision()
        self.model = Model(base=base, revision=base)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, ops: list[Put | Delete | Check]) -> None:
        ok = self.model.apply(ops)
        try:
            rev = self.store.txn(ops)
        except ConflictError:
            assert not ok, f"store refused {ops} that the model accepted"
            return
        assert ok, f"store accepted {ops} that the model refused"
        assert rev == self.model.revision

    @rule(key=KEYS, value=VALUES, how=EXPECT)
    def put(self, key: str, value: dict[str, Any], how: Any) -> None:
        expect = self.model.expect(key, how)
        ok = self.model.apply([Put(key, value, expect)])
        try:
            rec = self.store.put(key, value, expect_revision=expect)
        except ConflictError:
            assert not ok
            return
        assert ok and rec == self.model.live[key]

    @rule(key=KEYS, how=EXPECT)
    def delete(self, key: str, how: Any) -> None:
        expect = self.model.expect(key, how)
        existed = key in self.model.live
        ok = self.model.apply([Delete(key, expect)])
        try:
            deleted = self.store.delete(key, expect_revision=expect)
        except ConflictError:
            assert not ok
            return
        assert ok and deleted == existed

    @rule(
        ops=st.lists(
            st.tuples(st.sampled_from(["put", "delete", "check"]), KEYS, VALUES, EXPECT),
            min_size=1,
            max_size=4,
            unique_by=lambda t: t[1],
        )
    )
    def txn(self, ops: list[tuple[str, str, dict[str, Any], Any]]) -> None:
        built: list[Put | Delete | Check] = []
        for kind, key, value, how in ops:
            expect = self.model.expect(key, how)
            if kind == "put":
                built.append(Put(key, value, expect))
            elif kind == "delete":
                built.append(Delete(key, expect))
            else:
                built.append(Check(key, expect if expect is not None else 0))
        self._run(built)

    @invariant()
    def reads_agree(self) -> None:
        assert self.store.revision() == self.model.revision
        listed = self.store.list()
        assert listed == [self.model.live[k] for k in sorted(self.model.live)]
        assert listed.revision == self.model.revision
        assert self.store.list("pod/a") == [
            self.model.live[k] for k in sorted(self.model.live) if k.startswith("pod/a")
        ]
        for key in ["pod/a", "rc/a"]:
            assert self.store.get(key) == self.model.live.get(key)
            expected = list(reversed(self.model.history.get(key, [])))[:HISTORY_LIMIT]
            assert self.store.history(key) == expected

    @invariant()
    def watch_log_agrees(self) -> None:
        events = list(self.store.watch(start_revision=self.model.base + 1, timeout=0))
        assert [(e.type, e.record) for e in events] == self.model.log


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_matches_model(backend: str, request: pytest.FixtureRequest) -> None:
    etcd = request.getfixturevalue("etcd") if backend == "etcd" else None
    run_state_machine_as_test(lambda: StoreMachine(backend, etcd), settings=settings(
        max_examples=40 if backend == "sqlite" else 5,  # etcd: a watch from the past waits for its 100 ms sync
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    ))

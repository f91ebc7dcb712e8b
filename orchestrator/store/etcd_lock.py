"""Locks of the etcd store: an etcd lease holds `lock/<name>`, and `token/<name>` keeps the fencing token.

Taking the lock is one Txn: `lock/<name>` must not exist (create_revision == 0) and `token/<name>` must be
as read; it puts `lock/<name>` under a fresh lease of `ttl` seconds and `token/<name>` with the next token
(`next_token`: above the last one and the clock in milliseconds, so tokens keep growing across a move from
SQLite) and who holds it. The holder keeps the lease alive (a keep-alive every ttl/3 from a thread); a holder
that stops (stalled, SIGSTOPped, partitioned) loses it when etcd expires the lease, which deletes the key, and
the next taker gets a higher token. A fenced write compares `token/<name>`'s revision, so it is refused once
somebody else took the lock; the hosts compare the token itself (`act/fence.py`).

etcd cannot tell a dead holder from a stalled one, but the taker can when the holder ran on the same machine
(the same host name, boot and pid namespace): a holder process that is gone (or a zombie, or its pid reused)
has its lease revoked at once, so a cron run killed by SIGKILL does not block the next one for a ttl.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from orchestrator.errors import StoreError
from orchestrator.store.base import FencedError, Lock, LockHolder, fenced, lock_held, next_token
from orchestrator.store.etcd_client import NOT_FOUND, EtcdRequestError, b64, unb64

if TYPE_CHECKING:
    from orchestrator.store.etcd import EtcdStore


class EtcdLock(Lock):
    def __init__(self, store: EtcdStore, name: str, ttl: float):
        if not ttl > 0:
            raise StoreError(f'lock "{name}": ttl {ttl!r} is invalid: use a number of seconds above 0')
        super().__init__(name, ttl)
        self._store = store
        self._lease: int | None = None
        self._lost: FencedError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    @property
    def lease(self) -> int | None:
        """The etcd lease id that holds the lock now (None: not held)."""
        return self._lease

    def acquire(self) -> EtcdLock:
        if self._lease is not None:
            raise StoreError(f'lock "{self.name}" is already held by this object: release it first')
        s = self._store
        for _ in range(10):
            lock_kv, token_kv = _read(s, self.name)
            now = time.time()
            if lock_kv is not None:
                holder = _holder(self.name, token_kv, lock_kv)
                doc = _doc(lock_kv)
                if _dead_here(doc):
                    _revoke(s, int(lock_kv.get("lease", 0)))
                    continue
                expires = _expires(s, lock_kv, now)
                raise lock_held(holder and LockHolder(holder.name, holder.token, holder.pid, holder.host,
                                                      holder.since, expires), self.name, now)
            token = next_token(_token(token_kv) or 0, now)
            lease = _grant(s, self.ttl)
            doc = {"token": token, "pid": os.getpid(), "host": socket.gethostname(), "since": now,
                   "machine": _machine(), "start": _start_time(os.getpid())}
            value = b64(json.dumps(doc, sort_keys=True))
            compare = [_absent(s.lock_key(self.name)), _as_read(s.token_key(self.name), token_kv)]
            answer = s.client.txn(compare, [
                {"request_put": {"key": b64(s.lock_key(self.name)), "value": value, "lease": lease}},
                {"request_put": {"key": b64(s.token_key(self.name)), "value": value}},
            ])
            if answer.get("succeeded"):
                self._lease, self._token, self._lost = lease, token, None
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._heartbeat, args=(self._stop,),
                                                name=f"lease-{self.name}", daemon=True)
                self._thread.start()
                return self
            _revoke(s, lease)  # somebody was quicker: look again
        raise StoreError(f'{s.where}: lock "{self.name}" changed under every attempt to take it; retry')

    def release(self) -> None:
        self._stop.set()
        with self._mutex:  # not while the heartbeat is refreshing (it could take the lock back)
            lease, self._lease, self._token = self._lease, None, None
        if lease is not None:
            # revoking the lease deletes lock/<name> if it is still ours, and leaves a new holder's alone
            with contextlib.suppress(StoreError):
                _revoke(self._store, lease)

    def refresh(self) -> None:
        token = self.token
        if self._lost is not None:
            raise self._lost
        with self._mutex:
            s = self._store
            lease = self._lease
            if lease is None:  # released meanwhile
                raise StoreError(f'lock "{self.name}" is not held: acquire it (with store.lock(...)) first')
            alive = _keep_alive(s, lease)
            lock_kv, token_kv = _read(s, self.name)
            current = _token(token_kv)
            ours = lock_kv is not None and int(lock_kv.get("lease", 0)) == lease
            if current == token and ours and alive:
                return
            if current == token and (lock_kv is None or ours):
                # our lease ran out (stalled past the ttl) and nobody took the lock meanwhile: take it back
                if ours:
                    _revoke(s, lease)  # expired, its key not yet removed by etcd
                new = _grant(s, self.ttl)
                answer = s.client.txn(
                    [_absent(s.lock_key(self.name)), _as_read(s.token_key(self.name), token_kv)],
                    [{"request_put": {"key": b64(s.lock_key(self.name)),
                                      "value": token_kv["value"] if token_kv else b64("{}"), "lease": new}}])
                if answer.get("succeeded"):
                    self._lease = new
                    return
                _revoke(s, new)
                current = _token(_read(s, self.name)[1])
            self._lost = fenced(self.name, token, current, what="lease refresh")
            raise self._lost

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            try:
                self.refresh()
            except FencedError:
                return  # lost: check() and refresh() say so from now on
            except StoreError:
                continue  # etcd briefly unreachable (a leader election): try again at the next beat


def read_holder(store: EtcdStore, name: str) -> LockHolder | None:
    lock_kv, token_kv = _read(store, name)
    holder = _holder(name, token_kv, lock_kv)
    if holder is None or lock_kv is None or _doc(lock_kv).get("token") != holder.token:
        return holder
    return LockHolder(holder.name, holder.token, holder.pid, holder.host, holder.since,
                      _expires(store, lock_kv, time.time()))


def _expires(store: EtcdStore, lock_kv: dict[str, Any], now: float) -> float:
    """When the holder's lease lapses unless refreshed: etcd tells the whole seconds left, so this is the
    latest it can be (0: the lease is gone)."""
    left = _ttl_left(store, int(lock_kv.get("lease", 0)))
    return now + left + 1 if left >= 0 else 0.0


# -- etcd requests -----------------------------------------------------------------------------------


def _read(store: EtcdStore, name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    answer = store.client.txn([], [{"request_range": {"key": b64(store.lock_key(name))}},
                                   {"request_range": {"key": b64(store.token_key(name))}}], write=False)
    found = [((r.get("response_range") or {}).get("kvs") or [None])[0] for r in answer.get("responses") or [{}, {}]]
    return found[0], found[1]


def _grant(store: EtcdStore, ttl: float) -> int:
    lease = store.client.request(lambda c: c.lease(ttl=max(1, math.ceil(ttl))))
    return int(lease.id)


def _keep_alive(store: EtcdStore, lease: int) -> bool:
    answer = store.client.post("/lease/keepalive", {"ID": lease})
    return int((answer.get("result") or {}).get("TTL", 0)) > 0


def _ttl_left(store: EtcdStore, lease: int) -> float:
    if not lease:
        return 0.0
    answer = store.client.post("/kv/lease/timetolive", {"ID": lease})
    return float(answer.get("TTL", 0))  # -1: no such lease (expired); 0 is left out of the answer


def _revoke(store: EtcdStore, lease: int) -> None:
    if not lease:
        return
    try:
        store.client.post("/kv/lease/revoke", {"ID": lease})
    except EtcdRequestError as e:
        if e.code != NOT_FOUND:  # already expired or revoked
            raise


def _absent(key: bytes) -> dict[str, Any]:
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": 0}


def _as_read(key: bytes, kv: dict[str, Any] | None) -> dict[str, Any]:
    if kv is None:
        return _absent(key)
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": int(kv["mod_revision"])}


def _doc(kv: dict[str, Any] | None) -> dict[str, Any]:
    if kv is None:
        return {}
    try:
        doc = json.loads(unb64(kv.get("value")))
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _token(kv: dict[str, Any] | None) -> int | None:
    token = _doc(kv).get("token")
    return int(token) if isinstance(token, int) else None


def _holder(name: str, token_kv: dict[str, Any] | None, lock_kv: dict[str, Any] | None) -> LockHolder | None:
    doc = _doc(token_kv) or _doc(lock_kv)
    if not isinstance(doc.get("token"), int):
        return None
    return LockHolder(name, int(doc["token"]), int(doc.get("pid", 0)), str(doc.get("host", "?")),
                      float(doc.get("since", 0.0)), 0.0)


# -- is a holder on this machine gone? ---------------------------------------------------------------


@cache
def _machine() -> str:
    """This machine and pid namespace: pids are comparable only between processes with the same."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), None if there is no such process; a zombie has 0."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return 0 if fields[0] in ("Z", "X") else int(fields[19])


def _dead_here(doc: dict[str, Any]) -> bool:
    if not _machine() or doc.get("machine") != _machine() or doc.get("host") != socket.gethostname():
        return False
    pid, start = doc.get("pid"), doc.get("start")
    if not isinstance(pid, int) or not isinstance(start, int):
        return False
    return _start_time(pid) != start

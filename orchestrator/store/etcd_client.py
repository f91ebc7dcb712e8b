"""The wire to etcd: its v3 gRPC-gateway JSON API, through etcd3gw, over every endpoint of the cluster.

etcd3gw gives the HTTP client (sessions, TLS, API path discovery, error classes) and leases; this module adds
what it lacks and the store needs:
- **failover**: a request that cannot reach one member goes to the next, until `timeout` runs out; a write
  whose outcome is unknown (the connection broke after it was sent, a leader change) is not resent blindly
  but reported as `AmbiguousWrite`, so the store can find out whether it landed;
- **auth**: a user's token (`/v3/auth/authenticate`) on every request, fetched again when it expires;
- **watch**: etcd3gw's watcher drops the compaction answer (needed for CompactedError), reads each HTTP chunk
  as one whole message and offers no way to stop waiting; `WatchStream` reads the gateway's
  newline-delimited messages itself, in a thread, and can be closed at any time;
- keys and values as UTF-8 (etcd3gw encodes text as Latin-1).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from orchestrator.errors import ConfigError, StoreError
from orchestrator.store.etcd_options import EtcdOptions

T = TypeVar("T")
CONNECT_TIMEOUT = 2.0


class EtcdUnavailable(StoreError):
    """No member of the etcd cluster answered within the timeout."""


class AmbiguousWrite(StoreError):
    """A write was sent but its answer was lost: it may or may not have been applied."""


class EtcdRequestError(StoreError):
    """etcd refused a request; `.code` is the gRPC status code, `.text` etcd's own message."""

    def __init__(self, message: str, code: int, text: str):
        super().__init__(message)
        self.code = code
        self.text = text


# gRPC status codes etcd answers with
NOT_FOUND, PERMISSION_DENIED, OUT_OF_RANGE, UNAVAILABLE, UNAUTHENTICATED = 5, 7, 11, 14, 16
_RETRYABLE = ("leader changed", "no leader", "request timed out", "too many requests", "not capable",
              "unhealthy cluster", "raft: stopped", "server stopped")


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def unb64(data: str | None) -> bytes:
    return base64.b64decode(data or "")


def prefix_end(prefix: bytes) -> bytes:
    """The range end covering every key that starts with `prefix` (b"\\0": no upper bound)."""
    p = bytearray(prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\0"


class EtcdClient:
    """Requests to one etcd cluster, tried on each endpoint in turn. Safe to use from several threads and
    after a fork (a child opens its own connections)."""

    def __init__(self, options: EtcdOptions):
        self.options = options
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self._pid = 0
        self._current = 0
        self._password: str | None = None
        if options.user is not None:
            self._password = options.password()  # read now: a missing file is an error at once
        for f in (options.ca, options.cert, options.key):
            if f is not None and not os.path.isfile(f):
                raise ConfigError(f"{options.where}: TLS file {f} does not exist (etcd section of orc.yaml)")

    # -- connections ---------------------------------------------------------------------------------
    def _all(self) -> list[Any]:
        with self._lock:
            if self._pid != os.getpid():
                from etcd3gw.client import Etcd3Client

                self._clients = []
                for host, port in self.options.endpoints:
                    session = _session()
                    if self.options.ca:
                        session.verify = self.options.ca
                    if self.options.cert and self.options.key:
                        session.cert = (self.options.cert, self.options.key)
                    self._clients.append(Etcd3Client(host=host, port=port, protocol=self.options.scheme,
                                                     timeout=(CONNECT_TIMEOUT, self.options.timeout),  # type: ignore[arg-type]
                                                     session=session))
                self._pid = os.getpid()
            return self._clients

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for c in self._clients:
                    c.session.close()
            self._clients, self._pid = [], 0

    def _authenticate(self, client: Any) -> None:
        client.session.headers.pop("Authorization", None)
        try:
            answer = client.post(client.get_url("/auth/authenticate"),
                                 json={"name": self.options.user, "password": self._password})
        except Exception as e:
            err = self._translate(e)
            if isinstance(err, EtcdRequestError) and err.code in (3, 9, UNAUTHENTICATED):
                raise StoreError(f"{self.options.where}: etcd refused user {self.options.user!r}: {err.text}; "
                                 "check etcd.user and its password file or variable") from e
            raise err from e
        client.session.headers["Authorization"] = answer["token"]

    # -- requests ------------------------------------------------------------------------------------
    def request(self, fn: Callable[[Any], T], *, write: bool = False, budget: float | None = None) -> T:
        """`fn(etcd3gw client)` on the current endpoint, then on the others while none answers, within
        `budget` seconds (default twice the timeout). A failed `write` raises AmbiguousWrite at once."""
        clients = self._all()
        deadline = time.monotonic() + (2 * self.options.timeout if budget is None else budget)
        reasons: dict[int, str] = {}
        authed = False
        attempt = 0
        while True:
            index = self._current % len(clients)
            client = clients[index]
            try:
                if self.options.user is not None and "Authorization" not in client.session.headers:
                    self._authenticate(client)
                return fn(client)
            except StoreError:
                raise
            except Exception as e:
                err = self._translate(e)
                if isinstance(err, EtcdRequestError):
                    if err.code == UNAUTHENTICATED and self.options.user is not None and not authed:
                        authed = True
                        self._authenticate(client)
                        continue
                    if not (err.code == UNAVAILABLE or any(r in err.text for r in _RETRYABLE)):
                        raise err from e
                reasons[index] = err.text if isinstance(err, EtcdRequestError) else _why(e)
                with self._lock:
                    if self._current % len(clients) == index:
                        self._current = index + 1
                if write:
                    raise AmbiguousWrite(f"{self.options.where}: a write's answer was lost ({reasons[index]})") from e
                attempt += 1
                if time.monotonic() >= deadline:
                    where = "; ".join(f"{h}:{p}: {reasons.get(i, 'not tried')}"
                                      for i, (h, p) in enumerate(self.options.endpoints))
                    raise EtcdUnavailable(
                        f"etcd store {self.options.where} is unreachable ({where}): check that etcd runs and that "
                        "orc.yaml `store` names its client URLs") from e
                if attempt % len(clients) == 0:
                    time.sleep(min(0.2 * attempt / len(clients), 1.0))

    def post(self, path: str, payload: dict[str, Any], *, write: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self.request(lambda c: c.post(c.get_url(path), json=payload), write=write)
        return result

    def _translate(self, e: Exception) -> Exception:
        from etcd3gw import exceptions as ex

        if isinstance(e, ex.Etcd3Exception) and e.detail_text:
            try:
                body = json.loads(e.detail_text)
            except ValueError:
                return e  # not an answer of etcd's: the connection failed
            if isinstance(body, dict):
                text = str(body.get("message") or body.get("error") or e.detail_text)
                code = int(body.get("code") or (UNAVAILABLE if isinstance(e, ex.ConnectionFailedError) else 2))
                return EtcdRequestError(_message(self.options, text, code), code, text)
        return e

    def rotate(self) -> None:
        """Move on to the next endpoint (the current one let a stream break)."""
        with self._lock:
            self._current += 1

    # -- helpers the store uses ----------------------------------------------------------------------
    def txn(self, compare: list[dict[str, Any]], success: list[dict[str, Any]],
            failure: list[dict[str, Any]] | None = None, *, write: bool = True) -> dict[str, Any]:
        payload = {"compare": compare, "success": success, "failure": failure or []}
        return self.post("/kv/txn", payload, write=write)

    def watch_stream(self, key: bytes, range_end: bytes, start: int) -> WatchStream:
        client = self._all()[self._current % len(self.options.endpoints)]
        return WatchStream(self, client, key, range_end, start)


def _session() -> Any:
    """A requests session that uses only what orc.yaml says: with `trust_env`, requests lets
    REQUESTS_CA_BUNDLE override the session's CA (requests#3829) and would send etcd's traffic through an
    HTTP(S)_PROXY meant for the web."""
    import requests

    session = requests.Session()
    session.trust_env = False
    return session


def _why(e: Exception) -> str:
    text = str(e)
    for needle, reason in (("Connection refused", "connection refused"), ("timed out", "timed out"),
                           ("Name or service not known", "unknown host"), ("SSL", "TLS error"),
                           ("reset by peer", "connection reset"), ("RemoteDisconnected", "connection closed")):
        if needle in text:
            return reason
    return f"{type(e).__name__}: {text[:200]}"


def _message(options: EtcdOptions, text: str, code: int) -> str:
    where = options.where
    if code == PERMISSION_DENIED:
        return (f"{where}: etcd refused the request ({text}): give etcd user {options.user!r} read and write on "
                f"the prefix {options.prefix}")
    if "database space exceeded" in text:
        return (f"{where}: etcd is out of space ({text}): compact and defragment it, then "
                "`etcdctl alarm disarm`")
    if "request is too large" in text:
        return f"{where}: a value is larger than etcd accepts ({text}): raise etcd's --max-request-bytes"
    return f"{where}: etcd refused the request: {text}"


class WatchStream:
    """One etcd watch (`/v3/watch`) read by a thread into `messages`: ("msg", dict) for each response,
    ("end", None) when the server closes it, ("error", exception) when it breaks. `close()` ends it at once."""

    def __init__(self, owner: EtcdClient, client: Any, key: bytes, range_end: bytes, start: int):
        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._closed = threading.Event()
        self._resp: Any = None
        self._session = _session()
        self._session.verify = client.session.verify
        self._session.cert = client.session.cert
        self._session.headers.update(client.session.headers)
        self._url = client.get_url("/watch")
        self._request: dict[str, Any] = {"create_request": {"key": b64(key), "range_end": b64(range_end),
                                            "start_revision": start, "prev_kv": True}}
        self._owner = owner
        self._thread = threading.Thread(target=self._run, daemon=True, name="etcd-watch")
        self._thread.start()

    def _run(self) -> None:
        try:
            resp = self._session.post(self._url, data=json.dumps(self._request), stream=True,
                                      timeout=(CONNECT_TIMEOUT, None))
            self._resp = resp
            if self._closed.is_set():
                return
            if resp.status_code != 200:
                self.messages.put(("error", StoreError(f"{self._owner.options.where}: watch refused: "
                                                       f"HTTP {resp.status_code}: {resp.text[:300]}")))
                return
            buf = b""
            for chunk in resp.iter_content(chunk_size=None):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self.messages.put(("msg", json.loads(line)))
            self.messages.put(("end", None))
        except Exception as e:  # noqa: BLE001 - any break of the stream goes to the reader
            if not self._closed.is_set():
                self.messages.put(("error", e))
        finally:
            if self._closed.is_set():
                self._shut()

    def close(self) -> None:
        self._closed.set()
        self._shut()

    def _shut(self) -> None:
        resp = self._resp
        if resp is not None:
            sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                resp.close()
        with contextlib.suppress(Exception):
            self._session.close()

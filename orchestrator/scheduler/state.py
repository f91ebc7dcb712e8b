"""The cluster as arrays over hosts, updated incrementally after each placement.

Host i is row i of every array. Fixed facts (labels, taints, images) are encoded once, lazily, as
integer columns so that filters and scorers work on whole arrays; what placements change (free resources,
host ports, GPU devices, pod counts per owner and per selector) is updated in place by `place()`, and
undone exactly by `remove()` for a pod placed in this run (the repair phase moves such pods).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from orchestrator.scheduler.types import (
    HOSTNAME_LABEL,
    NodeInfo,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PlacedPod,
    PodAffinityTerm,
    PodRequest,
    PodSelector,
    Taint,
)

CPU, MEMORY, EPHEMERAL, GPU = range(4)


@dataclass(frozen=True)
class LabelColumn:
    """One label key over all hosts: a value code per host (-1: label absent) and integer values (nan)."""

    codes: np.ndarray
    vocabulary: dict[str, int]
    numbers: np.ndarray
    present: np.ndarray = field(init=False)  # hosts with the label (computed once: columns are fixed facts)
    everywhere: bool = field(init=False)  # every host has it
    anywhere: bool = field(init=False)  # some host has it

    def __post_init__(self) -> None:
        present = self.codes >= 0
        object.__setattr__(self, "present", present)
        object.__setattr__(self, "everywhere", bool(present.all()))
        object.__setattr__(self, "anywhere", bool(present.any()))

    def equals(self, value: str) -> np.ndarray:
        return self.codes == self.vocabulary.get(value, -2)

    def isin(self, values: Sequence[str]) -> np.ndarray:
        wanted = [self.vocabulary[v] for v in values if v in self.vocabulary]
        return np.isin(self.codes, wanted) if wanted else np.zeros(len(self.codes), dtype=bool)


@dataclass
class AllocationScores:
    """Per host, 0-100, for one (cpu, memory) ask; `version` is the number of placements it reflects."""

    version: int
    least: np.ndarray
    most: np.ndarray
    balanced: np.ndarray


def _allocation(frac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-allocated, most-allocated and balanced scores from the shares in use once placed (k x 2)."""
    mean = frac.mean(axis=1)
    return 100.0 * (1.0 - mean), 100.0 * mean, 100.0 * (1.0 - np.abs(frac[:, 0] - frac[:, 1]) / 2.0)


def _number(text: str) -> float:
    try:
        return float(int(text))
    except ValueError:
        return float("nan")


class ClusterState:
    """Per-host arrays for one scheduling run. Build it from NodeInfo; `place()` accounts a placement."""

    def __init__(self, nodes: Sequence[NodeInfo]):
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise ValueError(f"scheduler: host name(s) {', '.join(dup)} appear more than once")
        self.nodes = list(nodes)
        self.n = len(self.nodes)
        self.index = {name: i for i, name in enumerate(names)}
        self.labels = [n.all_labels() for n in self.nodes]
        self.devices = [n.device_ids() for n in self.nodes]
        alloc = [
            (*n.allocatable.as_tuple()[:3], len(d)) for n, d in zip(self.nodes, self.devices, strict=True)
        ]
        self.allocatable = np.array(alloc, dtype=np.int64).reshape(self.n, 4)
        self.free = self.allocatable.copy()
        cpu_mem = self.allocatable[:, :2].astype(float)
        with np.errstate(divide="ignore"):
            self._inverse_alloc = np.where(cpu_mem > 0, 1.0 / cpu_mem, 0.0)
        self._no_alloc = cpu_mem <= 0
        self._used_share = np.zeros((self.n, 2))  # share of cpu and memory in use, per host
        self._changed: list[int] = []  # the host of every placement so far, in order
        self._allocation: dict[tuple[int, int], AllocationScores] = {}
        self.ready = np.array([n.ready for n in self.nodes], dtype=bool)
        self.cordoned = np.array([n.cordoned for n in self.nodes], dtype=bool)
        self.free_devices: list[list[str]] = [list(d) for d in self.devices]
        self.ports: dict[tuple[int, str], np.ndarray] = {}
        self.owner_counts: dict[str, np.ndarray] = {}
        self.anti_affinity_counts: dict[PodAffinityTerm, np.ndarray] = {}  # placed pods' required terms
        # per label set of a pod asking: how many of those terms were checked, and the ones that match it
        self._anti_matching: dict[frozenset[tuple[str, str]], tuple[int, list[PodAffinityTerm]]] = {}
        self.pods_on: list[list[PlacedPod]] = [[] for _ in range(self.n)]
        self._columns: dict[str, LabelColumn] = {}
        self._selector_counts: dict[PodSelector, np.ndarray] = {}
        # placed pods grouped by their label set: few distinct sets, so selectors are matched per set
        self._hosts_by_labels: dict[frozenset[tuple[str, str]], list[int]] = {}
        self._counts_by_labels: dict[frozenset[tuple[str, str]], list[np.ndarray]] = {}
        self._compiled: dict[PodSelector, object] = {}
        self._needs: dict[PodSelector, tuple[str, str] | None] = {}  # a label the selector requires, if any
        self._images: dict[str, np.ndarray] = {}
        self._taint_sets, self.taint_codes = self._encode_taints()
        self._static_cache: dict[object, object] = {}
        for i, node in enumerate(self.nodes):
            for pod in node.pods:
                self._account(i, pod)
        self._running = [len(n.pods) for n in self.nodes]  # pods_on[i][:k] run there: never removed
        self.running_used = self.allocatable - self.free  # what the pods running before this run use

    # fixed facts ---------------------------------------------------------------------------------

    def column(self, key: str) -> LabelColumn:
        col = self._columns.get(key)
        if col is None:
            vocabulary: dict[str, int] = {}
            codes = np.full(self.n, -1, dtype=np.int32)
            numbers = np.full(self.n, np.nan)
            for i, labels in enumerate(self.labels):
                value = labels.get(key)
                if value is not None:
                    codes[i] = vocabulary.setdefault(value, len(vocabulary))
                    numbers[i] = _number(value)
            col = self._columns[key] = LabelColumn(codes, vocabulary, numbers)
        return col

    def requirement_mask(self, req: NodeSelectorRequirement) -> np.ndarray:
        col = self.column(req.key)
        op = req.operator
        if op == "In":
            return col.isin(req.values)
        if op == "NotIn":
            return ~col.isin(req.values)
        if op == "Exists":
            return col.present
        if op == "DoesNotExist":
            return ~col.present
        bound = _number(req.values[0]) if len(req.values) == 1 else float("nan")
        if np.isnan(bound):
            raise ValueError(
                f"node affinity: {req.key} {op} needs exactly one integer value, got {req.values}"
            )
        with np.errstate(invalid="ignore"):
            return col.numbers > bound if op == "Gt" else col.numbers < bound

    def term_mask(self, term: NodeSelectorTerm) -> np.ndarray:
        """Hosts matching every expression of the term (an empty term matches no host, as in Kubernetes)."""
        if not term:
            return np.zeros(self.n, dtype=bool)
        mask = np.ones(self.n, dtype=bool)
        for req in term:
            mask &= self.requirement_mask(req)
        return mask

    def _encode_taints(self) -> tuple[list[tuple[Taint, ...]], np.ndarray]:
        sets: dict[tuple[Taint, ...], int] = {}
        codes = np.array([sets.setdefault(n.taints, len(sets)) for n in self.nodes], dtype=np.int32)
        return list(sets), codes

    @property
    def taint_sets(self) -> list[tuple[Taint, ...]]:
        """The distinct taint sets; taint_codes[i] indexes host i's set."""
        return self._taint_sets

    def image_mask(self, image: str) -> np.ndarray:
        mask = self._images.get(image)
        if mask is None:
            mask = self._images[image] = np.array([image in n.images for n in self.nodes], dtype=bool)
        return mask

    def cached(self, key: object, compute):  # type: ignore[no-untyped-def]
        """Memoise a result that depends only on fixed facts (static filter masks, preferred terms)."""
        if key not in self._static_cache:
            self._static_cache[key] = compute()
        return self._static_cache[key]

    # counts that placements change ---------------------------------------------------------------

    def compiled(self, selector: PodSelector):  # type: ignore[no-untyped-def]
        sel = self._compiled.get(selector)
        if sel is None:
            sel = self._compiled[selector] = selector.compile()
            self._needs[selector] = next(
                ((r.key, r.values[0]) for r in sel.requirements
                 if r.operator in ("=", "==", "in") and len(r.values) == 1), None)
        return sel

    def may_match(self, selector: PodSelector, labels: Mapping[str, str]) -> bool:
        """Whether `selector` matches `labels`, answering no at once where a label it requires by one value
        is absent or different (most selectors of a batch, against most label sets)."""
        sel = self.compiled(selector)
        need = self._needs[selector]
        if need is not None and labels.get(need[0]) != need[1]:
            return False
        return bool(sel.matches(labels))

    def selector_counts(self, selector: PodSelector) -> np.ndarray:
        """Pods matching `selector` on each host (kept up to date once asked for)."""
        counts = self._selector_counts.get(selector)
        if counts is None:
            sel = self.compiled(selector)
            counts = self._selector_counts[selector] = np.zeros(self.n, dtype=np.int64)
            for label_set, hosts in self._hosts_by_labels.items():
                if sel.matches(dict(label_set)):
                    np.add.at(counts, hosts, 1)
                    self._counts_by_labels[label_set].append(counts)
        return counts

    def anti_affinity_against(self, labels: Mapping[str, str]) -> list[PodAffinityTerm]:
        """The required anti-affinity terms of placed pods whose selector matches `labels`, in the order
        the terms were first placed (as iterating `anti_affinity_counts`). Memoised per label set and
        extended only by terms placed since: a batch has few label sets and many placements."""
        key = frozenset(labels.items())
        checked, matching = self._anti_matching.get(key, (0, []))
        if checked < len(self.anti_affinity_counts):
            terms = list(self.anti_affinity_counts)
            matching = matching + [t for t in terms[checked:] if self.may_match(t.selector, labels)]
            self._anti_matching[key] = (len(terms), matching)
        return matching

    def _shares_after(self, cpu: int, memory: int, hosts: np.ndarray | slice) -> np.ndarray:
        """Share of cpu and memory in use on `hosts` once a pod asking this much is placed (k x 2)."""
        asked = np.array([cpu, memory])
        share = self._used_share[hosts] + asked * self._inverse_alloc[hosts]
        if self._no_alloc.any():  # a host with none of a resource is full once any of it is used
            used = self.allocatable[hosts, :2] - self.free[hosts, :2] + asked
            share = np.where(self._no_alloc[hosts], (used > 0).astype(float), share)
        return np.clip(share, 0.0, 1.0, out=share)

    def allocation_scores(self, cpu: int, memory: int) -> AllocationScores:
        """The least-allocated, most-allocated and balanced-allocation scores of every host for a pod
        asking this much. Kept per distinct (cpu, memory) ask (a batch has few) and brought up to date
        on the hosts placed on since it was last asked for, not recomputed over all hosts."""
        key = (cpu, memory)
        entry = self._allocation.get(key)
        if entry is None:
            entry = self._allocation[key] = AllocationScores(len(self._changed), np.zeros(0), np.zeros(0),
                                                             np.zeros(0))
            entry.least, entry.most, entry.balanced = _allocation(self._shares_after(cpu, memory, slice(None)))
        elif entry.version < len(self._changed):
            hosts = np.array(self._changed[entry.version:], dtype=np.intp)  # repeats get the same value
            entry.least[hosts], entry.most[hosts], entry.balanced[hosts] = _allocation(
                self._shares_after(cpu, memory, hosts))
            entry.version = len(self._changed)
        return entry

    def domain_counts(self, key: str, counts: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
        """For each host, the sum of `counts` over hosts sharing its `key` label value (its domain).
        Hosts without the label get 0; with `eligible`, only those hosts add to a domain."""
        if key == HOSTNAME_LABEL and eligible is None:
            return counts
        col = self.column(key)
        if eligible is None and col.everywhere:  # the same sums as below, without the masks
            return np.bincount(col.codes, weights=counts, minlength=len(col.vocabulary))[col.codes]
        take = col.present if eligible is None else col.present & eligible
        sums = np.bincount(col.codes[take], weights=counts[take], minlength=len(col.vocabulary))
        out = np.zeros(self.n)
        out[col.present] = sums[col.codes[col.present]]
        return out

    def place(self, i: int, pod: PodRequest) -> tuple[str, ...]:
        """Account `pod` on host i; returns the GPU device ids it was given."""
        devices = tuple(self.free_devices[i][: pod.requests.gpus])
        self._account(i, pod.placed(devices))
        return devices

    def add(self, i: int, pod: PlacedPod, at: int | None = None) -> None:
        """Account a pod placed in this run with the GPU devices it already holds (to put back a pod that
        `remove` took off, at its old position `at` in pods_on[i])."""
        self._account(i, pod)
        if at is not None:
            self.pods_on[i].insert(at, self.pods_on[i].pop())

    def placed_here(self, i: int) -> list[PlacedPod]:
        """The pods placed on host i in this run (not those running there before it)."""
        return self.pods_on[i][self._running[i]:]

    def remove(self, i: int, name: str) -> tuple[PlacedPod, int]:
        """Undo the placement of pod `name` on host i in this run, exactly: free resources, GPU devices (in
        their host's order), host ports, owner, anti-affinity and selector counts, allocation scores. Returns
        the pod (with its devices) and its position in pods_on[i], for `add`. A pod running on the host
        before this run is never removed. Anti-affinity terms left with no pod keep a zero count (the terms
        matched per label set are memoised by position); every filter and score reads them as absent."""
        on = self.pods_on[i]
        at = next((k for k in range(len(on) - 1, self._running[i] - 1, -1) if on[k].name == name), None)
        if at is None:
            raise ValueError(f"scheduler: pod {name} was not placed on host {self.nodes[i].name} in this run")
        pod = on.pop(at)
        self.free[i] += np.array(pod.requests.as_tuple(), dtype=np.int64)
        if pod.gpu_devices:
            keep = set(self.free_devices[i]) | set(pod.gpu_devices)
            self.free_devices[i] = [d for d in self.devices[i] if d in keep]
        for port in pod.host_ports:
            if not any(port in q.host_ports for q in on):
                used = self.ports[port]
                used[i] = False
                if not used.any():
                    del self.ports[port]
        if pod.owner:
            counts = self.owner_counts[pod.owner]
            counts[i] -= 1
            if not counts.any():
                del self.owner_counts[pod.owner]
        for term in pod.anti_affinity:
            self.anti_affinity_counts[term][i] -= 1
        label_set = frozenset(pod.labels.items())
        for counts in self._counts_by_labels[label_set]:
            counts[i] -= 1
        hosts = self._hosts_by_labels[label_set]
        del hosts[len(hosts) - 1 - hosts[::-1].index(i)]
        if not hosts:  # no pod of this label set left: as if none had been placed
            del self._hosts_by_labels[label_set], self._counts_by_labels[label_set]
        self._changed.append(i)
        self._used_share[i] = (self.allocatable[i, :2] - self.free[i, :2]) * self._inverse_alloc[i]
        return pod, at

    def _account(self, i: int, pod: PlacedPod) -> None:
        self.free[i] -= np.array(pod.requests.as_tuple(), dtype=np.int64)
        taken = set(pod.gpu_devices)
        free = [d for d in self.free_devices[i] if d not in taken]
        missing = pod.requests.gpus - len(taken)  # a running pod whose device ids were not probed
        self.free_devices[i] = free[missing:] if missing > 0 else free
        for port in pod.host_ports:
            self.ports.setdefault(port, np.zeros(self.n, dtype=bool))[i] = True
        if pod.owner:
            self.owner_counts.setdefault(pod.owner, np.zeros(self.n, dtype=np.int64))[i] += 1
        for term in pod.anti_affinity:
            self.anti_affinity_counts.setdefault(term, np.zeros(self.n, dtype=np.int64))[i] += 1
        label_set = frozenset(pod.labels.items())
        matching = self._counts_by_labels.get(label_set)
        if matching is None:
            matching = self._counts_by_labels[label_set] = [
                c for sel, c in self._selector_counts.items() if self.may_match(sel, pod.labels)
            ]
        for counts in matching:
            counts[i] += 1
        self._hosts_by_labels.setdefault(label_set, []).append(i)
        self.pods_on[i].append(pod)
        self._changed.append(i)
        self._used_share[i] = (self.allocatable[i, :2] - self.free[i, :2]) * self._inverse_alloc[i]

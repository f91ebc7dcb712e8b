"""The project: a folder with `orc.yaml`, found in the working directory or its parents (as git finds
`.git`), or named by --config / ORC_CONFIG. Paths in it are relative to the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.errors import ConfigError

CONFIG_NAME = "orc.yaml"
STATE_DIR = ".orc"  # beside orc.yaml: the SQLite store, the secret values, the cache
CACHE_DIR = "cache"  # under .orc/: validations kept for the next run (validated_cache.py)
CLUSTER_NAME_MAX = 40


class SSHSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: see validated_cache.py
    host_key_policy: Literal["strict", "accept-new"] = "strict"
    known_hosts: str | None = None  # extra known_hosts file of the project (beside ~/.ssh/known_hosts)
    connect_timeout: float = 5.0
    command_timeout: float = 120.0
    max_parallel: int = 32
    connect_retries: int = 2
    ssh_config: str | None = None  # default ~/.ssh/config


class ProxySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: see validated_cache.py
    group: str | None = None  # inventory group that runs HAProxy; None: every host
    service_cidr: str = "10.233.0.0/24"
    node_port_range: str = "30000-32767"


class EtcdSettings(BaseModel):
    """How to reach an `etcd://` store (orc.yaml `etcd:`); files are relative to orc.yaml. A password is never
    written here: name the file that holds it or the environment variable."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: see validated_cache.py
    prefix: str = "/orc"  # the cluster's keys go under <prefix>/<cluster>/, so clusters can share one etcd
    ca: str | None = None  # CA bundle that signed etcd's server certificate (turns TLS on)
    cert: str | None = None  # client certificate and its key, for etcd's --client-cert-auth
    key: str | None = None
    user: str | None = None  # etcd user (etcd auth enabled)
    password_file: str | None = None  # a file holding the user's password (one line)
    password_env: str | None = None  # or an environment variable holding it
    timeout: float = Field(default=5.0, gt=0, le=300)  # seconds per request; failover to the next endpoint
    compact: bool = True  # compact etcd's revisions older than the store's event window (off: etcd's own policy)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+/?", v):
            raise ValueError(f"{v!r} is not a key prefix: use /NAME or /NAME/NAME of letters, digits, '.', '_', '-'")
        return v.rstrip("/")


class RebalanceSettings(BaseModel):
    """orc.yaml `rebalance:`: move pods to restore the scheduler's spread (plan/moves.py). Off by default."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: see validated_cache.py
    enabled: bool = False
    max_moves_per_pass: int = Field(default=1, ge=1)  # pods being moved at once, cluster-wide
    # "[DAYS ]HH:MM-HH:MM" in the controller's local time ("Sat 02:00-05:00", "Mon-Fri 22:00-02:00");
    # empty: moves may start at any time
    windows: list[str] = Field(default_factory=list)

    @field_validator("windows")
    @classmethod
    def _windows(cls, v: list[str]) -> list[str]:
        from orchestrator.plan.rebalance import parse_window

        errors = []
        for i, text in enumerate(v):
            try:
                parse_window(text)
            except ValueError as e:
                errors.append(f"[{i}] {e}")
        if errors:
            raise ValueError("; ".join(errors))
        return v

    def config(self) -> Any:
        """The planner's RebalanceConfig."""
        from orchestrator.plan.rebalance import RebalanceConfig, parse_window

        return RebalanceConfig(self.enabled, self.max_moves_per_pass, tuple(parse_window(w) for w in self.windows))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: see validated_cache.py
    cluster: str | None = None  # this cluster's identity on its hosts (written by `orc init`)
    inventory: str = "inventory/"
    store: str = "sqlite:.orc/state.db"
    templates: str = "templates/"
    secrets: str = "secrets/"  # Kubernetes Secret manifests for valueFrom.secretKeyRef; never stored
    infra_image: str = "registry.k8s.io/pause:3.9"
    infra_command: list[str] = Field(default_factory=list)  # empty: the image's own (pause needs none)
    grace_period: float = 40.0  # seconds a host may fail probes before it is NotReady
    # --watch: seconds a host that no peer reaches either (verdict "down") may fail before its pods are
    # replaced; the watch notices a host gone within seconds (its event stream's heartbeat stops), and the
    # peers' verdict makes a short grace safe. Other failures (no peer to ask) wait grace_period.
    watch_grace_period: float = Field(default=5.0, ge=0)
    # More than this share of the hosts failing at once is a full disruption: nothing is replaced (the
    # controller's own network is the likelier cause), as Kubernetes' node lifecycle controller does.
    disruption_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    interval: float = 10.0  # --watch: seconds between passes when nothing wakes it sooner
    resync: float = 60.0  # --watch: every host is probed at least this often, whatever its event stream says
    facts_ttl: float = 300.0  # at most, seconds a host's static facts (cpu, disk, images, ...) are reused (each host its own share, from half of it: refreshes spread); 0: always probe
    # seconds a controller that stopped refreshing its reconcile lease (stalled, SIGSTOPped) keeps it before
    # another may take it over; a live one refreshes it every lease_ttl/3, a dead one frees it at once
    lease_ttl: float = Field(default=30.0, gt=0)
    pod_port_range: str = "20000-29999"  # host ports pods publish their container ports on (cluster address)
    # A rollout that passed its progressDeadlineSeconds goes back to the previous revision (an object's
    # annotation orc.io/auto-rollback: "true" / "false" overrides this)
    auto_rollback: bool = False
    drain_seconds: float = 2.0  # after proxies dropped a leaving pod, seconds its in-flight requests get
    ssh: SSHSettings = Field(default_factory=SSHSettings)
    etcd: EtcdSettings = Field(default_factory=EtcdSettings)
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    scheduler: dict[str, Any] = Field(default_factory=dict)  # weights and strategy, see scheduler
    rebalance: RebalanceSettings = Field(default_factory=RebalanceSettings)

    @field_validator("cluster")
    @classmethod
    def _cluster_name(cls, v: str | None) -> str | None:
        import re

        if v is not None and (len(v) > CLUSTER_NAME_MAX or not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", v)):
            raise ValueError(f"{v!r} is not a cluster name: up to {CLUSTER_NAME_MAX} lower-case letters, digits "
                             "and '-', starting with a letter and ending with a letter or digit")
        return v

    @field_validator("infra_image")
    @classmethod
    def _image_reference(cls, v: str) -> str:
        from orchestrator.model.image_ref import image_reference_errors

        errors = image_reference_errors(v)
        if errors:
            raise ValueError(f"{v!r} is not an image reference: {'; '.join(errors)}")
        return v


class Project:
    """A loaded project: its folder, settings and resolved paths."""

    def __init__(self, root: Path, settings: Settings, config_file: Path | None):
        self.root = root
        self.settings = settings
        self.config_file = config_file

    def path(self, rel: str) -> Path:
        p = Path(os.path.expanduser(rel))
        return p if p.is_absolute() else self.root / p

    @property
    def cluster(self) -> str:
        """The cluster's name (orc.yaml `cluster`); commands that act on hosts need it."""
        if self.settings.cluster is None:
            where = self.config_file or (self.root / CONFIG_NAME)
            raise ConfigError(f"{where}: no `cluster:` name. Every container, proxy config and service address "
                              "carries it, so that a pass never touches another project's: add a line such as "
                              "`cluster: prod-eu` (a new name for a new cluster; keep the old one for a clone)")
        return self.settings.cluster

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def cache_dir(self) -> Path:
        return cache_dir(self.root)

    @property
    def inventory_path(self) -> Path:
        return self.path(self.settings.inventory)

    @property
    def templates_path(self) -> Path:
        return self.path(self.settings.templates)

    @property
    def secret_values_path(self) -> Path:
        """The applied Secrets' values (0600; see secret_store.py), beside the store's own files."""
        from orchestrator.secret_store import FILE_NAME

        return self.state_dir / FILE_NAME

    @property
    def secrets_path(self) -> Path:
        return self.path(self.settings.secrets)

    @property
    def store_url(self) -> str:
        if self.config_file is None:
            raise ConfigError(f"no {CONFIG_NAME} in {self.root} or its parents: this command keeps state in a "
                              "project; run `orc init` here, or cd into your project (or pass --config)")
        return self.resolve_store_url(self.settings.store)

    def resolve_store_url(self, url: str) -> str:
        """A store URL as orc.yaml (or `orc store migrate --to`) writes it, made complete: a SQLite path
        relative to orc.yaml; an etcd one with this cluster's key prefix and the `etcd:` options."""
        if url.startswith("sqlite:"):
            return "sqlite:" + str(self.path(url[len("sqlite:"):]))
        if url.startswith("etcd://"):
            from orchestrator.store.etcd_options import project_url

            where = self.config_file or (self.root / CONFIG_NAME)
            return project_url(url, self.cluster, self.settings.etcd.model_dump(), self.path, f"{where}: store")
        return url

    def open_store(self, *, write: bool = False) -> Any:
        """The project's store, checked to be this cluster's (`store.bind_cluster`); `write` (commands that
        change it) records the cluster's name in a store that has none yet."""
        from orchestrator.store import bind_cluster, open_store

        store = open_store(self.store_url)
        try:
            bind_cluster(store, self.settings.cluster, write=write)
        except BaseException:
            store.close()
            raise
        return store


def cache_dir(root: Path) -> Path:
    """A project's folder of validations kept for the next run (validated_cache.py)."""
    return root / STATE_DIR / CACHE_DIR


def find_config(start: Path) -> Path | None:
    for d in [start, *start.parents]:
        f = d / CONFIG_NAME
        if f.is_file():
            return f
    return None


def load_project(config_path: str | None = None, cwd: Path | None = None) -> Project:
    """Load orc.yaml (explicit path, else search upward). With none found, a project of defaults
    rooted at the working directory, so `orc -i inventory.ini hosts` works anywhere."""
    cwd = cwd or Path.cwd()
    f: Path | None
    if config_path:
        f = Path(config_path)
        if not f.is_file():
            raise ConfigError(f"config file {config_path} not found (given by --config or ORC_CONFIG)")
    else:
        f = find_config(cwd)
    if f is None:
        return Project(cwd, Settings(), None)
    try:
        raw = yaml.safe_load(f.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{f}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{f}: must be a mapping of settings")
    from orchestrator.validated_cache import ValidatedCache

    root = f.parent.resolve()
    try:
        settings = ValidatedCache(cache_dir(root)).get("settings", raw, lambda: Settings.model_validate(raw))
    except ValidationError as e:
        msgs = [f"{f}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError("\n".join(msgs)) from e
    return Project(root, settings, f.resolve())

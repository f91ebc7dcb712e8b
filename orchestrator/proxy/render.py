"""Rendering a host's HAProxy config from Jinja2 templates (pure): the project's templates folder first, the
packaged default (orchestrator/proxy/templates/) second; StrictUndefined; a service may name its own
template (annotation orc.io/haproxy-template), included in place of the default sections. Errors name the
template file and line."""

from __future__ import annotations

import dataclasses
import functools
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.model.objects import Service
from orchestrator.proxy.addresses import ServiceAddress
from orchestrator.proxy.config_values import UnsafeValue, haproxy_value, haproxy_words
from orchestrator.proxy.endpoints import Endpoint, for_port
from orchestrator.proxy.hostvars import HAProxyHost

MAIN_TEMPLATE = "haproxy.cfg.j2"
PACKAGED_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PortView:
    name: str | None
    port: int
    node_port: int | None
    target: int | str
    protocol: str
    frontend: str
    backend: str
    check_path: str | None
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceView:
    name: str
    type: str
    cluster_ip: str
    template: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    ports: list[PortView]
    endpoints: list[Endpoint]


def _check_path(eps: Sequence[Endpoint]) -> str | None:
    """The HTTP check path when every endpoint probes this port with the same httpGet path."""
    paths = {e.check_path for e in eps}
    return next(iter(paths)) if len(paths) == 1 else None


def service_view(svc: Service, addr: ServiceAddress, eps: Sequence[Endpoint]) -> ServiceView:
    ports = []
    for sp in svc.spec.ports:
        mine = for_port(eps, sp.port)
        ident = f"{svc.name}-{sp.name or sp.port}"
        ports.append(
            PortView(
                name=sp.name,
                port=sp.port,
                node_port=addr.node_ports.get(sp.port),
                target=sp.target,
                protocol=(sp.protocol or "TCP").lower(),
                frontend=f"fe-{ident}",
                backend=f"be-{ident}",
                check_path=_check_path(mine),
                endpoints=mine,
            )
        )
    return ServiceView(
        name=svc.name,
        type=svc.type,
        cluster_ip=addr.cluster_ip,
        template=svc.haproxy_template,
        labels=dict(svc.labels),
        annotations=dict(svc.metadata.annotations or {}),
        ports=ports,
        endpoints=list(eps),
    )


def environment(templates_dir: Path | None) -> jinja2.Environment:
    """One environment per search path, kept: it caches compiled templates (compiling the default one took
    ~18 ms, per proxy host per pass) and recompiles a template whose file changed (auto_reload). Every
    `{{ ... }}` passes `config_values.haproxy_value`: a value that would add a line, a comment or a word
    to the config is refused (UnsafeValue), naming it and the template line."""
    return _environment(tuple(str(p) for p in (templates_dir, PACKAGED_TEMPLATES) if p is not None and Path(p).is_dir()))


@functools.lru_cache(maxsize=16)
def _environment(paths: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(paths)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=haproxy_value,
    )
    env.filters["haproxy_words"] = haproxy_words
    return env


def _where(e: BaseException, env: jinja2.Environment) -> str:
    """'template /p/haproxy.cfg.j2, line 12' for the innermost template frame of a render error."""
    if isinstance(e, jinja2.TemplateSyntaxError):
        return f"template {e.filename or e.name}, line {e.lineno}"
    roots = tuple(os.path.realpath(p) + os.sep for p in getattr(env.loader, "searchpath", []))
    found = ""
    for frame in traceback.extract_tb(e.__traceback__):
        if os.path.realpath(frame.filename).startswith(roots):
            found = f"template {frame.filename}, line {frame.lineno}"
    return found or "template"


def _load(env: jinja2.Environment, name: str, what: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as e:
        searched = ", ".join(getattr(env.loader, "searchpath", []))
        raise ConfigError(
            f"{what}: template {name!r} not found (searched {searched}); add it to the "
            "project's templates folder"
        ) from e
    except jinja2.TemplateSyntaxError as e:
        raise ConfigError(f"{what}: {_where(e, env)}: {e.message}") from e


def render(
    host: Host,
    services: Mapping[str, Service],
    addresses: Mapping[str, ServiceAddress],
    endpoints: Mapping[str, Sequence[Endpoint]],
    templates_dir: Path | None,
) -> str:
    """The config `host` should run: every service that has an address, sorted by name. Raises ConfigError
    naming the template file and line (or the service whose template is missing)."""
    env = environment(templates_dir)
    main = _load(env, MAIN_TEMPLATE, f"HAProxy config for host {host.name}")
    views = []
    for svc in sorted(services.values(), key=lambda s: s.name):
        if svc.name not in addresses:
            continue
        if svc.haproxy_template:
            _load(env, svc.haproxy_template, f'Service "{svc.name}" (annotation orc.io/haproxy-template)')
        views.append(service_view(svc, addresses[svc.name], endpoints.get(svc.name, [])))
    try:
        return main.render(host=host, haproxy=HAProxyHost.of(host), services=views)
    except UnsafeValue as e:
        raise ConfigError(f"HAProxy config for host {host.name}: {_where(e, env)}: {e}") from e
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - a template can raise anything; report where
        raise ConfigError(f"HAProxy config for host {host.name}: {_where(e, env)}: {e}") from e


@dataclass
class HostRender:
    """One host's config, rendered service by service so that one broken template fails only its own
    service: `errors` (service -> message); `kept` the services whose last good section was kept for it,
    the others with an error are left out; `fragments` every custom-template section rendered now (the
    next pass's last good ones)."""

    config: str | None  # None: the main template itself failed (`main_error`)
    fragments: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    main_error: str = ""


FRAGMENT_PREFIX = "orc-section:"


def render_isolated(
    host: Host,
    services: Mapping[str, Service],
    addresses: Mapping[str, ServiceAddress],
    endpoints: Mapping[str, Sequence[Endpoint]],
    templates_dir: Path | None,
    last_good: Mapping[str, str] | None = None,
) -> HostRender:
    """As `render`, but a service whose own template (orc.io/haproxy-template) is missing or fails keeps
    the section it had when it last rendered (`last_good`), or is left out when it never rendered: every
    other service on the host is still brought up to date."""
    last_good = last_good or {}
    env = environment(templates_dir)
    out = HostRender(config=None)
    try:
        main = _load(env, MAIN_TEMPLATE, f"HAProxy config for host {host.name}")
        haproxy = HAProxyHost.of(host)
    except ConfigError as e:
        out.main_error = str(e)
        return out
    views: list[ServiceView] = []
    for svc in sorted(services.values(), key=lambda s: s.name):
        if svc.name in addresses:
            views.append(service_view(svc, addresses[svc.name], endpoints.get(svc.name, [])))
    sections: dict[str, str] = {}
    for view in views:
        if not view.template:
            continue
        what = f'Service "{view.name}" (annotation orc.io/haproxy-template)'
        try:
            text = _load(env, view.template, what).render(host=host, haproxy=haproxy, services=views, svc=view)
        except UnsafeValue as e:  # a value the template printed: which service, which template line
            out.errors[view.name] = f"{what}: {_where(e, env)}: {e}"
        except ConfigError as e:
            out.errors[view.name] = str(e)
        except Exception as e:  # noqa: BLE001 - a template can raise anything; report where
            out.errors[view.name] = f"{what}: {_where(e, env)}: {e}"
        else:
            sections[view.name] = out.fragments[view.name] = text
            continue
        if view.name in last_good:
            sections[view.name] = last_good[view.name]
            out.kept.add(view.name)
    kept_views = []
    for view in views:
        if view.template and view.name not in sections:
            continue  # broken and never good: left out
        if view.template:
            view = dataclasses.replace(view, template=FRAGMENT_PREFIX + view.name)
        kept_views.append(view)
    literal = {FRAGMENT_PREFIX + name: "{% raw %}" + text.replace("{% endraw %}", "") + "{% endraw %}"
               for name, text in sections.items()}
    if literal:  # the sections by name, in an overlay: the shared environment (and its cache) stays as it is
        env = env.overlay(loader=jinja2.ChoiceLoader([jinja2.DictLoader(literal), *([env.loader] if env.loader else [])]))
        main = env.get_template(MAIN_TEMPLATE)
    try:
        out.config = main.render(host=host, haproxy=haproxy, services=kept_views)
    except Exception as e:  # noqa: BLE001
        out.main_error = f"HAProxy config for host {host.name}: {_where(e, env)}: {e}"
        out.config = None
    return out

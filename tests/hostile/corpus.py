"""A corpus of hostile and tricky strings, per field class (issue 13), each class at least 150 members.

The shared pool (`hostile()`) comes from a few families: option-like, shell metacharacters (each payload
would create MARKER), Unicode (bidi, zero-width, BOM, combining, CJK, emoji), every control character,
config syntax (line breaks, comments, quotes) and over-long values. Each field class adds the values that
are hostile for that field in particular (a tag with two colons for an image, `kubernetes.io/hostname`
for a label key, `..` for a template name), and says which pool members are legitimate there (`a/b` is a
valid image and label key), so that every member of a refusal class must be refused:

    image_refs()        container images                    refused at apply, naming the field
    host_names()        inventory host names                refused when the inventory loads
    host_addresses()    ansible_host                        "
    user_names()        ansible_user                        "
    label_keys()        inventory (and pod) label keys      "
    label_values()      inventory (and pod) label values    "
    byte_strings()      env values, args, secret values     arrive byte-exact in the container
    bad_ports()         every port field                    refused at apply
    bad_node_ports()    nodePort outside 30000-32767        refused at apply
    template_names()    annotation orc.io/haproxy-template  refused at apply
    broken_templates()  a service's own HAProxy template    that service's error, the others updated

Used by tests/unit/test_hostile_input.py (all of it, fast) and tests/e2e/test_hostile_lab.py (all of it,
through the real CLI on the lab)."""

from __future__ import annotations

import os

MARKER = f"/tmp/orc-hostile-marker-{os.getpid()}"

SHELL = [
    f"$(touch {MARKER})", f"`touch {MARKER}`", f"; touch {MARKER}", f"| touch {MARKER}",
    f"&& touch {MARKER}", f"|| touch {MARKER}", f"> {MARKER}", f"' ; touch {MARKER} ; '",
    f'" ; touch {MARKER} ; "', f"\ntouch {MARKER}\n", f"$IFS; touch {MARKER}", f"${{IFS}}touch${{IFS}}{MARKER}",
    f"a & touch {MARKER} &", f"<(touch {MARKER})", f"x\\; touch {MARKER}", f"*; touch {MARKER} #",
]
OPTIONS = ["-", "--", "-x", "--pid=host", "--volume=/:/h", "--privileged", "-v/:/h", "-e X=1", "--network=host",
           "-oProxyCommand=touch " + MARKER, "--entrypoint=sh", "-h", "--help", "-1", "--=x", "-rf"]
UNICODE = ["ünïcode", "名前", "\u202eevil", "a\u200bb", "\ufeffbom", "e\u0301", "💥", "\u2028line", "\u2029para",
           "ｆｕｌｌ", "ǅ", "\u00a0nbsp", "Ωmega", "\u0085nel", "Ⅻ", "\U0001f600x"]
CONTROL = [chr(i) for i in range(0, 32)] + ["\x7f"]
LONG = ["a" * 254, "a" * 300, "b" * 4096, "c." * 200, "x" * 70_000]
CONFIG = ["a\nglobal", "a\r\nb", "a#b", "a b", "a\tb", f"name\n    stats socket {MARKER} level admin", "a;b", "a,b",
          "a=b", "a'b", 'a"b', "a\\b", "{{ x }}", "${x}", "a/b", "..", "."]


def _wrap(base: list[str], extra: list[str]) -> list[str]:
    return base + [f"a{s}z" for s in extra] + [f"{s}a" for s in extra]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def hostile(min_count: int = 150) -> list[str]:
    """Every family, each also embedded in and prefixed to an ordinary word; deduplicated, in order."""
    controls = [f"x{c}y" for c in CONTROL] + [f"{c}x" for c in CONTROL]
    items = _wrap(SHELL + OPTIONS + UNICODE + LONG + CONFIG, SHELL[:6] + UNICODE[:6] + CONFIG[:6]) + controls
    out = _unique([s for s in items if s])
    assert len(out) >= min_count, len(out)
    return out


def _without_nul(values: list[str]) -> list[str]:
    """A NUL cannot stand in an inventory file (YAML and INI both refuse it before we see it)."""
    return [s for s in values if "\x00" not in s]


# --- images ----------------------------------------------------------------------------------------------

VALID_IMAGES = ["local/busybox:1", "a", "a/b", "a" * 254, "registry.example.com:5000/team/app:v2",
                "localhost/app", "[::1]:5000/app:1", "app@sha256:" + "0" * 64, "a__b-c/d.e:T_1.x-y"]


def image_refs() -> list[str]:
    """Image references docker's grammar refuses (or would read as an option)."""
    grammar = [
        "a:b:c", "a::b", "a:", ":tag", "@sha256:" + "0" * 64, "a@", "a@sha256:", "a@sha256:abc",
        "a@sha256:" + "g" * 64, "a@:" + "0" * 64, "a@1sha:" + "0" * 64, "/a", "a/", "a//b", "a..b", "a.-b",
        "a-", "-a", "_a", "a_", "a___b", ".a", "a.", "Upper", "app/Upper", "UPPER/CASE:1", "host:port/a",
        "host:/a", "[::1/a", "[::1]]/a", "a/b:" + "t" * 129, "a:.tag", "a:-tag", "a:ta g", "a:tag!", "a b:1",
        "a/" + "b" * 256, "x" * 256, "a:tag@", "a@@sha256:" + "0" * 64, "a/b/", "a/./b", "a/../b", "~a", "a~b",
        "a+b", "a$b", "a%b", "a*b", "a?b", "a!b", "a&b", "a(b)", "a[b]", "a{b}", "a|b", "a^b", "a<b", "a>b",
        "http://a/b", "https://registry/app", "file:///etc/passwd", "a\\b\\c", "café", "app:тег",
    ]
    shared = [s for s in hostile() if s not in VALID_IMAGES]
    return _unique(shared + grammar + [f"{s}/a" for s in OPTIONS] + [f"a:{s}" for s in OPTIONS if s != "-"])


# --- inventory -------------------------------------------------------------------------------------------

def host_names() -> list[str]:
    """Inventory host names the loader must refuse (Ansible's names as they are used, no punctuation)."""
    extra = ["-host", ".host", "host name", "host\tname", "h" * 254, "a,b", "a;b", "a@b", "a!b", "a$b", "a*b",
             "a?b", "a(b)", "a{b}", "a|b", "a&b", "a<b", "a>b", "a~b", "a^b", "a'b", 'a"b', "a`b", "a+b", "a=b",
             "a/b/c", "-", "--", "-oProxyCommand=x", "host\u00a0name", "hóst", "名前.example"]
    return _unique(_without_nul(hostile()) + extra)


def host_addresses() -> list[str]:
    """ansible_host values that are neither a DNS host name nor an IP address (an empty one is an error)."""
    extra = ["", " ", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1\n", "-10.0.0.1", "-oProxyCommand=touch " + MARKER,
             "a..b", "a.-b.c", "-a.b", "a-.b", "a" * 64 + ".com", "x." * 130, "host:22", "[::1", "::1]", "a b",
             "user@host", "host/path", "http://host", "10.0.0.1;id", "ホスト", "a_b$", "%eth0", "a,b"]
    return _unique(_without_nul(hostile()) + extra)


def user_names() -> list[str]:
    """ansible_user values that are not POSIX user names."""
    extra = ["-u", "-oProxyCommand=x", "u" * 33, "root:x", "a b", "a@b", "a/b", "a$b", "$", "a$$", "ro ot",
             "a:b", "a\\b", "a'b", "user\n", "ユーザー", "a,b", "a;b", "a=b", "a*b", "~root", "a!b"]
    return _unique(_without_nul(hostile()) + extra)


# Valid label keys that only orc's probe may set on a host (an inventory label may not spoof them).
RESERVED_LABEL_KEYS = ["kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "orc.io/gpu-count",
                       "orc.io/gpu-model", "orc.io/disk", "node.kubernetes.io/x", "k8s.io/x", "sub.k8s.io/y",
                       "orc.x/y"]


def label_keys() -> list[str]:
    """Inventory label keys refused: not a qualified name, or in a namespace that only orc's probe writes
    (a pod's labels may use those: without RESERVED_LABEL_KEYS, each is refused in a pod too)."""
    grammar = ["", "/a", "a/", "a/b/c", "-a", "a-", ".a", "a.", "a" * 64, "p" * 254 + "/a", "A_B/c", "a b",
               "a/-b", "a/b-", "a..b/c", "ex ample.com/a", "a:b", "a@b", "a=b", "a!b"]
    return _unique([s for s in _without_nul(hostile()) if s != "a/b"] + RESERVED_LABEL_KEYS + grammar)


def label_values() -> list[str]:
    """Label values refused (empty is valid; at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends)."""
    extra = ["v" * 64, "-a", "a-", ".a", "a.", "_a", "a_", "a b", "a/b", "a:b", "a@b", "a=b", "a,b", "a!b",
             "(a)", "a\u00a0", "ü", "true ", " 1"]
    return _unique(_without_nul(hostile()) + extra)


# --- bytes -----------------------------------------------------------------------------------------------

def every_byte_value() -> str:
    """Every character U+0001..U+00FF (its UTF-8 bytes are what arrives): the value a container must get
    byte-exact through env, args and a secret."""
    return "".join(chr(i) for i in range(1, 256))


def byte_strings() -> list[str]:
    """Env and arg values that must arrive byte-exact: each character 1..255 alone, in a word, at the end
    (a trailing carriage return is what docker's env file drops), and the hostile corpus without NUL."""
    singles = [chr(i) for i in range(1, 256)]
    worded = [f"a{chr(i)}b" for i in range(1, 256, 3)] + [f"v{chr(i)}" for i in (9, 10, 13, 32, 35, 92, 133)]
    rest = [s for s in hostile() if "\x00" not in s]
    return _unique(singles + worded + rest + [every_byte_value(), "x" * 70_000 + "\r"])


# --- ports -----------------------------------------------------------------------------------------------

def bad_ports() -> list[object]:
    """Port values each of which some port field must refuse."""
    return ([-70000, 0, 99999, 2**31, 2**63, 1.5, 80.0, True, False, None, "", "80", " 80",
             "http ", "-80", "0x50", "1e3", [], {}, [80], {"port": 80}]
            + list(range(65536, 65536 + 60)) + [-n for n in range(1, 61)] + [f"p{n}-" for n in range(40)])


def bad_node_ports() -> list[int]:
    """Node ports outside the default range 30000-32767, each once."""
    values = [22, 80, 443, 1, 8080, 29999, 32768, 40000, 65535] + list(range(1, 30000, 211)) + list(range(32768, 65536, 331))
    return list(dict.fromkeys(values))


# --- templates -------------------------------------------------------------------------------------------

def template_names() -> list[str]:
    """orc.io/haproxy-template values refused at apply: a template is a file name in the templates folder,
    never a path, an option, a pattern, or longer than a file name can be."""
    paths = ["../haproxy.cfg.j2", "../../etc/passwd", "/etc/passwd", "a/b.j2", "./a.j2", "a/../b.j2", "~/a.j2",
             "a\\b.j2", "C:\\a.j2", "-a.j2", ".a.j2", ".", "..", "", " ", "a.j2 ", " a.j2", "*.j2", "a?.j2",
             "[a].j2", "{a,b}.j2", "a.j2;rm", "t" * 256, "a:b.j2", "a@b.j2", "a=b.j2", "a,b.j2", "a+b.j2"]
    return _unique([s for s in hostile() if s != "a" * 254] + paths)  # 254 letters: a file name


# The template a service with a hostile `note` annotation uses: the value must never reach the config.
NOTE_TEMPLATE = "# note: {{ svc.annotations['note'] }}\n"

BROKEN_SYNTAX = [
    "{{", "{{ x", "{{ }}", "{% if %}", "{% if x %}", "{% for %}", "{% for x in %}", "{% for x in y %}",
    "{% endfor %}", "{% endif %}", "{% else %}", "{{ x | }}", "{{ | x }}", "{% include %}", "{{ x }",
    "{{ 1 + }}", "{% if x }}", "{% foo %}", "{% block %}", "{% extends %}", "{% set %}", "{% macro %}", "{{ x. }}",
    "{{ x[ }}", "{{ ( }}", "{{ ) }}", "{{ 'a }}", '{{ "a }}', "{{ x y }}", "{{ 1 1 }}",
    "{% if x %}{% endfor %}", "{% call %}", "{% filter %}", "{{ svc.name | nosuchfilter }}",
    "{% if svc is nosuchtest %}{% endif %}", "{% with %}", "{% import %}", "{% from 'x' import %}",
    "{{ x if }}", "{{ [1, }}", "{{ {1: }}", "{% break %}", "{% continue %}", "{% do 1 %}", "{{ a = 1 }}",
    "{{ ** }}", "{% endblock %}", "{% endmacro %}", "{% elif x %}", "{{ svc.name | }}", "{% set x = %}",
]
BROKEN_RUNTIME = [
    "{{ nope }}", "{{ svc.nope }}", "{{ host.nope }}", "{{ svc.ports[99] }}", "{{ 1 / 0 }}", "{{ 1 // 0 }}",
    "{{ 1 % 0 }}", "{{ 'a' + 1 }}", "{{ 1 + 'a' }}", "{{ svc.name | int(1 / 0) }}",
    "{% include 'missing.cfg.j2' %}", "{% include '../etc/passwd' %}", "{% include '/etc/passwd' %}",
    "{% import 'missing.j2' as m %}", "{% extends 'missing.j2' %}", "{{ svc.name() }}", "{{ none.x }}",
    "{{ [] | first }}", "{{ svc.annotations['missing'] }}", "{{ host.vars['missing'] }}",
    "{% for x in 5 %}{% endfor %}", "{{ 2 ** 100000 }}", "{{ '%d' % 'a' }}", "{{ 'a' | format(1, 2) }}",
    "{{ x | default(y) }}", "{{ 'a'.nope() }}", "{{ svc }}", "{{ svc.ports }}", "{{ host }}", "{{ services }}",
    "{{ cycler(1, 2) }}", "{{ namespace(a=1) }}", "{{ svc.ports[0].nope }}", "{{ svc.endpoints[0] }}",
    "{{ haproxy.nope }}", "{{ range(3) | list }}", "{{ 'a b' }}", "{{ 'a#b' }}", "{{ 'a\\nb' }}",
    "{{ svc.name ~ ' x' }}", "{{ '\"' }}", "{{ \"'\" }}", "{{ '\\\\' }}", "{{ svc.name | haproxy_words ~ '\\n' }}",
    "{{ '# x' | haproxy_words }}", "{{ 'a\\tb' | haproxy_words }}",
]


def broken_templates() -> list[tuple[str, str | None]]:
    """(template text, the service's `note` annotation or None): each fails to render for its service,
    by a syntax error, a runtime error, or a value that would change the config's structure (a line break,
    a comment, a word break, a quote or backslash, a control character)."""
    breaking = " \t\n\r#'\"\\"
    notes = [s for s in hostile() if any(c in s for c in breaking) or any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f
                                                                        or c in "\u2028\u2029" for c in s)]
    return ([(t, None) for t in BROKEN_SYNTAX + BROKEN_RUNTIME]
            + [(NOTE_TEMPLATE, n) for n in notes if "\x00" not in n])

"""Label keys/values and the selector grammar, with cases drawn from the Kubernetes docs and apimachinery."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.labels import (
    Requirement,
    Selector,
    SelectorError,
    validate_dns1035_label,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_label_key,
    validate_label_selector,
    validate_label_value,
    validate_labels,
)

# --- parsing: (input, canonical string) ---------------------------------------------------------------

GOOD = [
    ("", ""),
    ("x=a,y=b,z=c", "x=a,y=b,z=c"),
    ("x!=a,y=b", "x!=a,y=b"),
    ("x=", "x="),
    ("x= ", "x="),
    ("x=,z= ", "x=,z="),
    ("x= ,z= ", "x=,z="),
    ("!x", "!x"),
    ("x>1", "x>1"),
    ("x>1,z<5", "x>1,z<5"),
    ("x==a", "x==a"),
    ("\rx", "x"),
    ("a ", "a"),
    ("x,y", "x,y"),
    ("a=x,x=a", "a=x,x=a"),
    ("x=a,a=x", "a=x,x=a"),  # deterministic: sorted by key
    ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
    (
        "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
        "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
    ),
    ("foo  in\t (abc)", "foo in (abc)"),
    ("x notin\n (abc)", "x notin (abc)"),
    ("x in (abc,def)", "x in (abc,def)"),
    ("x in (def,abc,abc)", "x in (abc,def)"),
    ("x in (abc,)", "x in (,abc)"),
    ("x in ()", "x in ()"),  # Kubernetes reads "()" as the set holding the empty string
    ("x notin ( )", "x notin ()"),
    ("x notin (, a)", "x notin (,a)"),
    ("x notin (abc,def),bar,z in (),w", "bar,w,x notin (abc,def),z in ()"),
    ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),  # keywords are plain values inside a list
    ("notin=in", "notin=in"),
    ("env=prod,tier in (fe,be),!canary", "!canary,env=prod,tier in (be,fe)"),
    ("environment in (production, qa)", "environment in (production,qa)"),
    ("tier notin (frontend, backend)", "tier notin (backend,frontend)"),
    ("partition", "partition"),
    ("!partition", "!partition"),
    ("environment = production, tier != frontend", "environment=production,tier!=frontend"),
    ("x>-3", "x>-3"),
]


@pytest.mark.parametrize(("text", "canonical"), GOOD)
def test_parse_good(text, canonical):
    sel = Selector.parse(text)
    assert str(sel) == canonical
    assert Selector.parse(str(sel)) == sel


BAD = [
    ("x=a||y=b", "a||y"),
    ("x==a==b", "found '=='"),
    ("!x=a", "found '='"),
    ("x<a", "must be an integer"),
    ("x>1.1", "must be an integer"),
    ("x>", "must be an integer"),
    (",x,y", "found ','"),
    ("x,", "identifier after ','"),
    ("x nott in (y)", "found 'nott'"),
    ("a in (xyz),", "identifier after ','"),
    ("a in (xyz)b notin ()", "found 'b'"),
    ("a in (xyz abc)", "found 'abc'"),
    ("a notin(", "expected: ',', ')' or identifier"),
    ("a (", "found '('"),
    ("(", "found '('"),
    ("x in", "expected: '('"),
    ("x in a", "expected: '('"),
    ("x in (a", "expected: ',' or ')'"),
    ("a/b/c", "qualified name"),
    ("-x", "name part must consist"),
    ("x=-a", "a valid label must be an empty string"),
    ("x=a b", "found 'b'"),
    ("!", "expected: identifier"),
    ("!x y", "found 'y'"),
    ("x=" + "a" * 64, "must be no more than 63 characters"),
    ("a" * 254, "must be no more than 63 characters"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_parse_bad(text, fragment):
    with pytest.raises(SelectorError) as e:
        Selector.parse(text)
    assert fragment in str(e.value)
    assert repr(text) in str(e.value)


def test_selector_error_is_value_error():
    assert issubclass(SelectorError, ValueError)


def test_parse_rejects_non_string():
    with pytest.raises(SelectorError, match="must be a string"):
        Selector.parse(None)  # type: ignore[arg-type]


# --- matching ------------------------------------------------------------------------------------------

MATCH = [
    ("", {}, True),
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x==y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x>1", {"x": "1"}, False),
    ("x<1", {"x": "2"}, False),
    ("x>1", {}, False),
    ("x>1", {"x": "v2"}, False),  # a non-integer label value never satisfies > or <
    ("x<1", {"x": "abc"}, False),
    ("x!=y", {}, True),  # != also selects objects without the key
    ("x notin (a)", {}, True),
    ("x notin (a,b)", {"x": "b"}, False),
    ("x in (a,b)", {"x": "b"}, True),
    ("x in (a,b)", {"x": "c"}, False),
    ("x in (a,b)", {}, False),
    ("x in ()", {"x": ""}, True),
    ("x in ()", {"y": "baz"}, False),
    ("x notin ()", {"y": ""}, True),
    ("x=", {"x": ""}, True),
    ("x=", {"x": "a"}, False),
    ("x,y in (a)", {"x": "1", "y": "a"}, True),
    ("x,y in (a)", {"y": "a"}, False),
    ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ("env=prod,tier in (fe,be),!canary", {"env": "prod", "tier": "fe"}, True),
    ("env=prod,tier in (fe,be),!canary", {"env": "prod", "tier": "fe", "canary": "1"}, False),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCH)
def test_matches(text, labels, expected):
    assert Selector.parse(text).matches(labels) is expected


def test_empty_selector():
    assert Selector.parse("").empty
    assert Selector.everything().empty
    assert Selector.from_dict({}).empty
    assert Selector.from_dict(None).empty
    assert Selector.from_label_selector({}).empty
    assert not Selector.parse("a").empty
    assert Selector.parse("").matches(None)


def test_requirements_exposed():
    sel = Selector.parse("tier in (fe,be),env=prod,!canary,n>2")
    assert sel.requirements == (
        Requirement("canary", "!", ()),
        Requirement("env", "=", ("prod",)),
        Requirement("n", "gt", ("2",)),
        Requirement("tier", "in", ("be", "fe")),
    )


def test_hash_and_eq():
    a = Selector.parse("x=a, y in (b,c)")
    b = Selector.parse("y in (c,b),x=a")
    assert a == b and hash(a) == hash(b)
    assert len({a, b, Selector.parse("x=a")}) == 2
    assert a != "x=a,y in (b,c)"
    assert Selector.parse("x=a") != Selector.parse("x==a")  # as in Kubernetes, the operators differ


# --- from_dict / from_label_selector -------------------------------------------------------------------


def test_from_dict():
    sel = Selector.from_dict({"app": "web", "tier": "fe"})
    assert str(sel) == "app=web,tier=fe"
    assert sel.matches({"app": "web", "tier": "fe", "x": "y"})
    assert not sel.matches({"app": "web"})
    with pytest.raises(SelectorError, match="name part"):
        Selector.from_dict({"bad key": "x"})


def test_from_label_selector():
    sel = Selector.from_label_selector(
        {
            "matchLabels": {"component": "redis"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["cache"]},
                {"key": "environment", "operator": "NotIn", "values": ["dev"]},
                {"key": "ssd", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(sel) == "!canary,component=redis,environment notin (dev),ssd,tier in (cache)"
    assert sel.matches({"component": "redis", "tier": "cache", "ssd": "true"})
    assert not sel.matches({"component": "redis", "tier": "cache", "ssd": "true", "environment": "dev"})
    assert Selector.from_label_selector(None).empty


LABEL_SELECTOR_ERRORS = [
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        [
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        ],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "NotIn"}]},
        [
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        ],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        [
            "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is "
            "'Exists' or 'DoesNotExist'"
        ],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
        [
            'spec.selector.matchExpressions[0].operator: Unsupported value: "Gt": supported values: '
            '"DoesNotExist", "Exists", "In", "NotIn"'
        ],
    ),
    (
        {"matchExpressions": [{"operator": "Exists"}]},
        ["spec.selector.matchExpressions[0].key: Required value"],
    ),
    (
        {"matchLabels": {"app": "-web"}, "matchFoo": 1},
        [
            'spec.selector.matchFoo: Forbidden: unknown field "matchFoo" (a LabelSelector has matchLabels and '
            "matchExpressions)",
            'spec.selector.matchLabels: Invalid value: "-web": a valid label must be an empty string or consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ],
    ),
]


@pytest.mark.parametrize(("obj", "errors"), LABEL_SELECTOR_ERRORS)
def test_label_selector_errors(obj, errors):
    assert validate_label_selector(obj, "spec.selector") == errors
    with pytest.raises(SelectorError):
        Selector.from_label_selector(obj)


def test_requirement_constructor():
    with pytest.raises(SelectorError, match="values set can't be empty"):
        Requirement.new("x", "in", [])
    with pytest.raises(SelectorError, match="values set can't be empty"):
        Requirement.new("x", "notin", ())
    assert Requirement.new("1foo", "in", ["bar"]).values == ("bar",)
    assert Requirement.new("1234", "in", ["bar"]).key == "1234"
    assert Requirement.new("y", "gt", ["1"]).matches({"y": "2"})
    with pytest.raises(SelectorError, match="must be an integer"):
        Requirement.new("foo", "gt", ["bar"])
    with pytest.raises(SelectorError, match="exactly one value"):
        Requirement.new("foo", "lt", ["1", "2"])
    with pytest.raises(SelectorError, match="must be empty"):
        Requirement.new("x", "exists", ["a"])
    with pytest.raises(SelectorError, match="no more than"):
        Requirement.new("a" * 254, "exists")
    with pytest.raises(SelectorError, match="Unsupported value"):
        Requirement.new("a", "~=", ["b"])


# --- key / value / name validation ---------------------------------------------------------------------

VALID_KEYS = [
    "a",
    "A",
    "app",
    "a-b_c.d",
    "1234",
    "example.com/MyName",
    "kubernetes.io/hostname",
    "a" * 63,
    "nvidia.com/gpu",
    ("a" * 63 + ".") * 3 + "b" * 61 + "/n",
]
INVALID_KEYS = [
    ("", "name part must be non-empty"),
    ("/a", "prefix part must be non-empty"),
    ("a/", "name part must be non-empty"),
    ("a/b/c", "a qualified name must consist"),
    ("-a", "name part must consist"),
    ("a-", "name part must consist"),
    ("a b", "name part must consist"),
    ("a" * 64, "name part must be no more than 63 characters"),
    ("Example.com/a", "prefix part a lowercase RFC 1123 subdomain"),
    ("a" * 254 + "/b", "prefix part must be no more than 253 characters"),
]


@pytest.mark.parametrize("key", VALID_KEYS)
def test_valid_label_keys(key):
    assert validate_label_key(key) == []


@pytest.mark.parametrize(("key", "fragment"), INVALID_KEYS)
def test_invalid_label_keys(key, fragment):
    errs = validate_label_key(key)
    assert errs and any(e.startswith(fragment) for e in errs), errs


@pytest.mark.parametrize("value", ["", "a", "MyValue", "my_value", "12345", "a.b-c_d", "v" * 63])
def test_valid_label_values(value):
    assert validate_label_value(value) == []


@pytest.mark.parametrize("value", ["-a", "a-", "a b", "a/b", "v" * 64, "é", ".a"])
def test_invalid_label_values(value):
    assert validate_label_value(value)


def test_validate_labels_field_errors():
    assert validate_labels({"app": "web", "Bad Key": "x", "n": 3}) == [
        'metadata.labels: Invalid value: "Bad Key": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "metadata.labels: Invalid value: 3: label values must be strings (quote them)",
    ]


@pytest.mark.parametrize(
    ("name", "label_ok", "subdomain_ok", "dns1035_ok"),
    [
        ("web", True, True, True),
        ("web-1", True, True, True),
        ("1web", True, True, False),
        ("web.example", False, True, False),
        ("Web", False, False, False),
        ("web_1", False, False, False),
        ("-web", False, False, False),
        ("web-", False, False, False),
        ("", False, False, False),
        ("a" * 63, True, True, True),
        ("a" * 64, False, True, False),
        (".".join(["a" * 63] * 4), False, False, False),  # 255 characters
    ],
)
def test_dns_names(name, label_ok, subdomain_ok, dns1035_ok):
    assert (validate_dns1123_label(name) == []) is label_ok
    assert (validate_dns1123_subdomain(name) == []) is subdomain_ok
    assert (validate_dns1035_label(name) == []) is dns1035_ok


def test_dns_label_message_is_kubernetes_text():
    assert validate_dns1123_label("Web") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
        "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert validate_dns1123_label("a" * 64)[0] == "must be no more than 63 characters"


# --- properties ----------------------------------------------------------------------------------------

_name = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True)
_prefix = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,5}[a-z0-9])?(\.[a-z0-9]{1,4}){0,2}", fullmatch=True)
_key = st.one_of(_name, st.builds(lambda p, n: f"{p}/{n}", _prefix, _name))
_value = st.one_of(st.just(""), _name)
_int = st.integers(min_value=-(2**40), max_value=2**40).map(str)
_requirement = st.one_of(
    st.builds(lambda k, op, v: Requirement.new(k, op, [v]), _key, st.sampled_from(["=", "==", "!="]), _value),
    st.builds(
        lambda k, op, vs: Requirement.new(k, op, vs),
        _key,
        st.sampled_from(["in", "notin"]),
        st.lists(_value, min_size=1, max_size=4),
    ),
    st.builds(lambda k, op: Requirement.new(k, op), _key, st.sampled_from(["exists", "!"])),
    st.builds(lambda k, op, v: Requirement.new(k, op, [v]), _key, st.sampled_from(["gt", "lt"]), _int),
)
_selector = st.lists(_requirement, max_size=5).map(Selector)


@given(_selector)
def test_canonical_string_round_trips(sel):
    again = Selector.parse(str(sel))
    assert again == sel
    assert str(again) == str(sel)


@given(_selector, st.dictionaries(_key, _value, max_size=5))
def test_matching_survives_round_trip(sel, labels):
    assert Selector.parse(str(sel)).matches(labels) == sel.matches(labels)


@given(st.dictionaries(_key, _value, max_size=5))
def test_from_dict_matches_its_own_labels(labels):
    sel = Selector.from_dict(labels)
    assert sel.matches(labels)
    assert Selector.parse(str(sel)) == sel


@given(st.text(alphabet="ab=!(), inotx<>1", max_size=20))
def test_parse_never_crashes(text):
    try:
        sel = Selector.parse(text)
    except SelectorError:
        return
    assert Selector.parse(str(sel)) == sel

"""Image references as Docker's grammar reads them: what `docker run` would take, and nothing that it could
read as an option."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ValidationError
from orchestrator.model.image_ref import image_reference_errors, is_image_reference
from orchestrator.model.load import parse_objects

VALID = [
    "nginx",
    "nginx:1.25",
    "nginx:latest",
    "library/nginx",
    "docker.io/library/nginx:1.25-alpine",
    "registry.example.com:5000/team/app:v2",
    "localhost/app",
    "localhost:5000/app:1",
    "127.0.0.1:5000/app",
    "[::1]:5000/app:x",
    "local/busybox:1",
    "a__b/c-d/e.f/g---h:T_1.2-x",
    "Registry.Example.COM/app",
    "app@sha256:" + "a" * 64,
    "app:1@sha256:" + "0123456789abcdef" * 4,
    "registry.k8s.io/pause:3.9",
    "x" * 255,
    "app:" + "t" * 128,
]

INVALID = [
    "--pid=host",
    "--volume=/:/h",
    "-v",
    "-",
    "--privileged",
    "",
    " nginx",
    "nginx ",
    "ngi nx",
    "nginx\n",
    "nginx\x00",
    "nginx\r",
    "nginx\t:1",
    "Nginx",
    "app:",
    "app:-1",
    "app:.1",
    "app:" + "t" * 129,
    "app@sha256:abc",
    "app@",
    "app@:" + "a" * 64,
    ":1",
    "/app",
    "app/",
    "a//b",
    "a..b",
    "-a/b",
    "a-/b",
    "_a",
    "a_",
    "a___b",
    "x" * 256,
    "$(touch /tmp/pwned)",
    "`id`",
    "app;rm -rf /",
    "app|x",
    "app&x",
    "a'b",
    'a"b',
    "ａpp",  # a full-width letter
    "app:1\u200b",
    "reg.example.com:port/app",
    "reg_host.com/app",
    "-reg.com/app",
]


@pytest.mark.parametrize("ref", VALID)
def test_valid_references_are_accepted(ref: str) -> None:
    assert image_reference_errors(ref) == []


@pytest.mark.parametrize("ref", INVALID)
def test_invalid_references_are_refused(ref: str) -> None:
    assert image_reference_errors(ref), ref


@given(st.text(min_size=1).map(lambda s: "-" + s))
def test_no_reference_that_docker_could_read_as_an_option_is_valid(ref: str) -> None:
    assert not is_image_reference(ref)


@given(st.text())
def test_a_valid_reference_has_only_printable_ascii_and_no_space(ref: str) -> None:
    if is_image_reference(ref):
        assert ref.isascii() and ref.isprintable() and " " not in ref and not ref.startswith("-")


def _pod(image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "local/busybox:1"}, {"name": "b", "image": image}]}}


@pytest.mark.parametrize("image", ["--pid=host", "--volume=/:/h"])
def test_an_option_in_the_image_field_is_refused_at_apply_with_the_field_named(image: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_objects([_pod(image)])
    assert e.value.errors == [
        f'Pod "p" is invalid: spec.containers[1].image: Invalid value: "{image}": '
        "must not start with '-' (it would be read as an option)"
    ]


def test_image_errors_are_listed_with_the_other_errors_of_the_document() -> None:
    doc = _pod("Bad Image")
    doc["spec"]["containers"][0]["name"] = "Not_A_Name"
    with pytest.raises(ValidationError) as e:
        parse_objects([doc])
    fields = [m.split(": ")[1] for m in e.value.errors]
    assert fields == ["spec.containers[0].name", "spec.containers[1].image"]

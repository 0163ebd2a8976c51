"""One rule for both servers: what is loopback, when a token is needed, which Host names are
answered, the concurrency override and the transports."""

from __future__ import annotations

import pytest

from xmodal.api.binding import (
    check_bind,
    check_transport,
    host_names,
    is_loopback,
    serve_limits,
)
from xmodal.api.limits import ServeLimits


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]",
                                  "localhost", "LocalHost"])
def test_loopback(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, token=None)  # no token needed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "my-box.lan",
                                  "128.0.0.1", "::2"])
def test_beyond_loopback_needs_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match=f"--host {host} is reachable from other machines"):
        check_bind(host, token=None)
    with pytest.raises(ValueError):
        check_bind(host, token="")
    check_bind(host, token="s3cret")


def test_host_names_add_the_bound_address_once() -> None:
    assert host_names("127.0.0.1") == ["127.0.0.1", "localhost", "::1"]
    assert host_names("[::1]") == ["127.0.0.1", "localhost", "::1"]
    assert host_names("127.0.0.2") == ["127.0.0.1", "localhost", "::1", "127.0.0.2"]
    assert host_names("fe80::1", ["box"]) == ["127.0.0.1", "localhost", "::1", "box", "fe80::1"]


def test_concurrency_override() -> None:
    assert serve_limits() == ServeLimits()
    assert serve_limits(1).max_concurrency == 1
    for bad in (0, -3):
        with pytest.raises(ValueError, match="--max-concurrency must be at least 1"):
            serve_limits(bad)


def test_transports() -> None:
    assert [check_transport(t) for t in ("stdio", "http")] == ["stdio", "http"]
    with pytest.raises(ValueError, match="unknown transport 'sse': use stdio or http"):
        check_transport("sse")

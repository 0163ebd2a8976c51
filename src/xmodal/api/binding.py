"""Starting a server: the loopback rule, the Host names it answers, its limits and transports.

Both servers (``xmodal serve``, ``xmodal mcp --transport http``) start through these, so they
agree: a bind address is loopback when it is ``localhost`` or an address in 127.0.0.0/8 or
``::1`` (:func:`is_loopback`); any other bind needs a token (:func:`check_bind`); the Host
header names accepted are the loopback names, the bound address and the names the user adds
(:func:`host_names`); ``--max-concurrency`` overrides the default limits only when it is at least
1 (:func:`serve_limits`).

Example:
    >>> is_loopback("127.0.0.2"), is_loopback("[::1]"), is_loopback("0.0.0.0")
    (True, True, False)
    >>> check_bind("10.0.0.5", token=None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --host 10.0.0.5 is reachable from other machines: give a token ...
    >>> host_names("127.0.0.2")
    ['127.0.0.1', 'localhost', '::1', '127.0.0.2']
    >>> serve_limits(3).max_concurrency
    3
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from typing import Literal, get_args

from xmodal.api.limits import ServeLimits

__all__ = ["LOCAL_HOSTS", "TRANSPORTS", "Transport", "check_bind", "check_transport",
           "host_names", "is_loopback", "serve_limits"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
"""The Host header names every server accepts (the usual names of this machine)."""

Transport = Literal["stdio", "http"]
"""How ``xmodal mcp`` talks: stdin/stdout (a local agent) or streamable HTTP."""

TRANSPORTS: tuple[Transport, ...] = get_args(Transport)


def is_loopback(host: str) -> bool:
    """True for a loopback address or name (127.0.0.0/8, ::1, localhost).

    Args:
        host: A bind address or Host name, IPv6 with or without brackets.

    Returns:
        Whether only this machine can reach it.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, token: str | None) -> None:
    """Refuse to bind a server beyond loopback without a token.

    Args:
        host: The address the server binds.
        token: The token every request must carry (None or empty: none).

    Raises:
        ValueError: ``host`` is not loopback and there is no token (the message is what the
            command prints).

    Example:
        >>> check_bind("127.0.0.2", token=None), check_bind("0.0.0.0", token="s3cret")
        (None, None)
    """
    if not token and not is_loopback(host):
        raise ValueError(f"--host {host} is reachable from other machines: give a token "
                         "(--token or env XMODAL_TOKEN), or bind 127.0.0.1")


def host_names(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The Host header names a server bound to ``host`` answers (against DNS rebinding).

    Args:
        host: The bound address (``[::1]`` or ``::1``).
        extra: More names the user allows (``--allowed-host``).

    Returns:
        :data:`LOCAL_HOSTS`, then ``extra``, then ``host`` unless already listed.

    Example:
        >>> host_names("127.0.0.1", ["box.lan"])
        ['127.0.0.1', 'localhost', '::1', 'box.lan']
    """
    names = [*LOCAL_HOSTS, *extra]
    bound = host.strip("[]")
    return names if bound in names else [*names, bound]


def serve_limits(max_concurrency: int | None = None) -> ServeLimits:
    """The served limits: the defaults, with ``--max-concurrency`` when given.

    Args:
        max_concurrency: Work slots (None: the default, 2 × cores).

    Raises:
        ValueError: ``max_concurrency`` is below 1.

    Example:
        >>> serve_limits(0)
        Traceback (most recent call last):
        ...
        ValueError: --max-concurrency must be at least 1
    """
    limits = ServeLimits()
    if max_concurrency is None:
        return limits
    if max_concurrency < 1:
        raise ValueError("--max-concurrency must be at least 1")
    return dataclasses.replace(limits, max_concurrency=max_concurrency)


def check_transport(transport: str) -> Transport:
    """``transport`` if ``xmodal mcp`` speaks it.

    Raises:
        ValueError: not one of :data:`TRANSPORTS`.

    Example:
        >>> check_transport("http")
        'http'
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}: use stdio or http")
    return transport  # type: ignore[return-value]

"""What a route depends on (FastAPI ``Depends``): the served service, its limits, and the runner
that does the route's work.

The app holds its :class:`~xmodal.api.service.SearchService` in ``app.state.service``
(:func:`~xmodal.api.http.create_app` puts it there); a route declares what it needs by type::

    @router.get("/health")
    async def health(service: ServiceDep, run: RunnerDep) -> Any:
        return await run(service.health)

:class:`Runner` runs a blocking service call through :func:`~xmodal.api.runner.run_blocking`
(a work slot, a worker thread, the request timeout) and turns a service refusal into an
:class:`~xmodal.api.routes.errors.ApiError` (429 with Retry-After when overloaded, 504 past the
timeout); anything else is a bug and reaches the catch-all 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request

from xmodal.api.limits import ServeLimits
from xmodal.api.routes.errors import api_error
from xmodal.api.runner import run_blocking
from xmodal.api.service import SearchService

__all__ = ["LimitsDep", "Runner", "RunnerDep", "ServiceDep", "get_limits", "get_runner",
           "get_service"]


def get_service(request: Request) -> SearchService:
    """The app's service."""
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[SearchService, Depends(get_service)]


def get_limits(service: ServiceDep) -> ServeLimits:
    """The service's limits."""
    return service.limits


LimitsDep = Annotated[ServeLimits, Depends(get_limits)]


class Runner:
    """Runs a route's blocking call in one of ``service``'s work slots, within a timeout.

    Args:
        service: The service whose slots and request timeout bound the work.
    """

    def __init__(self, service: SearchService) -> None:
        self.service = service

    async def __call__(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None,
                       **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` within ``timeout_s`` (default: the request timeout).

        Raises:
            ApiError: a refusal (the service's, overloaded, or the timeout).
        """
        timeout = self.service.limits.request_timeout_s if timeout_s is None else timeout_s
        try:
            return await run_blocking(self.service, partial(fn, *args, **kwargs),
                                      timeout_s=timeout)
        except Exception as exc:
            err = api_error(exc)
            if err is None:
                raise  # a bug: the catch-all handler answers 500 and logs it
            raise err from exc


def get_runner(service: ServiceDep) -> Runner:
    """The runner of the app's service."""
    return Runner(service)


RunnerDep = Annotated[Runner, Depends(get_runner)]

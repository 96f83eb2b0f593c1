"""Route lookup by path prefix instead of FastAPI's walk over every route (issue 17 speed goals).

FastAPI 0.165 keeps each included router as a branch and, for every request, tries the routes of
every branch in order, and again inside the branch it picked: a request for the hospital's routes
tried ~255 path regexes first, 0.5 ms of CPU, more than its own work. This index flattens the same
routes once, in the same order, and files each under the literal path segments before its first
parameter (at most four: `/api/v1/<domain>/<collection>`). A request then tries only the routes
that could match its path, still in FastAPI's order, and the first full match is handled exactly as
FastAPI's router would handle it (the same scope keys, the same per-route handler, so dependencies,
body limits and exception handlers are unchanged). Every other outcome - no route, a 405, the slash
redirect, a route kind the index does not handle itself - goes to FastAPI's router, so its answers
stay its own.

FastAPI is pinned (pyproject.toml); tests/api/test_route_index.py checks that the index picks the
route FastAPI picks for every route of the app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _get_fastapi_scope,
    _IncludedRouter,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

DEPTH = 4  # "/api/v1/<domain>/<collection>": a few routes per key


@dataclass(frozen=True)
class Leaf:
    """One route as FastAPI tries it: a top-level route, or a route inside included routers
    (`branches`, outermost first, as FastAPI's own effective contexts)."""

    route: BaseRoute | _EffectiveRouteContext
    branches: tuple[_IncludedRouter, ...]

    @property
    def path_format(self) -> str | None:
        route = self.route
        if isinstance(route, _EffectiveRouteContext):
            if isinstance(route.original_route, APIRoute):
                return route.path_format
            route = route.starlette_route or route.original_route
        found = getattr(route, "path_format", None)
        return found if isinstance(found, str) else None


def literal_prefix(path_format: str | None) -> tuple[str, ...]:
    """The path segments a route fixes before its first parameter, at most DEPTH; () for a route
    whose path is unknown (tried for every request)."""
    if path_format is None:
        return ()
    out: list[str] = []
    for segment in path_format.split("/")[1 : DEPTH + 1]:
        if "{" in segment:
            break
        out.append(segment)
    return tuple(out)


def request_key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/", DEPTH + 1)[1 : DEPTH + 1])


def _leaves(routes: list[BaseRoute]) -> Iterator[Leaf]:
    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield from _branch_leaves(route, (route,))
        else:
            yield Leaf(route, ())


def _branch_leaves(branch: _IncludedRouter, chain: tuple[_IncludedRouter, ...]) -> Iterator[Leaf]:
    for candidate in branch.effective_candidates():
        if isinstance(candidate, _IncludedRouter):
            yield from _branch_leaves(candidate, (*chain, candidate))
        else:
            yield Leaf(candidate, chain)


def _routers(routes: list[BaseRoute]) -> Iterator[APIRouter]:
    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield route.original_router
            yield from _routers(route.original_router.routes)


class RouteIndex:
    """The app's routes filed by literal prefix; rebuilt when a router's routes change."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._routers: tuple[APIRouter, ...] = ()
        self._version: tuple[tuple[int, int], ...] | None = None
        self._by_key: dict[tuple[str, ...], tuple[Leaf, ...]] = {}

    def _current_version(self) -> tuple[tuple[int, int], ...]:
        # a router included later changes the routes of one already known, so these suffice
        return tuple([(r._routes_version, len(r.routes)) for r in self._routers])

    def candidates(self, path: str) -> tuple[Leaf, ...]:
        """Every route that could match `path`, in FastAPI's order."""
        if self._version is None:
            self.rebuild()
        key = request_key(path)
        by_key = self._by_key
        for n in range(len(key), -1, -1):
            found = by_key.get(key[:n])
            if found is not None:
                return found
        return ()

    def rebuild(self) -> None:
        self._routers = (self.router, *_routers(self.router.routes))
        leaves = list(_leaves(self.router.routes))
        prefixes = [literal_prefix(leaf.path_format) for leaf in leaves]
        keys = set(prefixes) | {()}
        self._by_key = {
            key: tuple(leaf for leaf, p in zip(leaves, prefixes, strict=True) if key[: len(p)] == p)
            for key in keys
        }
        self._version = self._current_version()

    def check(self) -> None:
        """Rebuild if routes were added since (tests add some after the app is made)."""
        if self._version != self._current_version():
            self.rebuild()


class PrefixDispatch:
    """The app router's entry (its `middleware_stack`): the index's first full match, else FastAPI."""

    def __init__(self, router: APIRouter, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback
        self.index = RouteIndex(router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.fallback(scope, receive, send)
            return
        picked = self.pick(scope)
        if picked is None:
            await self.fallback(scope, receive, send)
        elif picked[0].branches:
            await self._included(*picked, scope, receive, send)
        else:
            await self._top_level(*picked, scope, receive, send)

    def pick(self, scope: Scope) -> tuple[Leaf, Scope] | None:
        """The route FastAPI would run for `scope` and its match's scope, or None to let FastAPI decide
        (no full match, or one this class does not run itself)."""
        self.index.check()
        for leaf in self.index.candidates(get_route_path(scope)):
            match, child_scope = leaf.route.matches(scope)
            if match is not Match.FULL:
                continue
            route = leaf.route
            if not leaf.branches or (
                isinstance(route, _EffectiveRouteContext) and isinstance(route.original_route, APIRoute)
            ):
                return leaf, child_scope
            return None  # a WebSocket or a mount inside a router: FastAPI's own way
        return None

    async def _top_level(
        self, leaf: Leaf, child_scope: Scope, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # as APIRouter.app does for a route of its own
        route = leaf.route
        assert isinstance(route, BaseRoute)
        _apply_router_form_limits(scope, self.router.form_limits)
        scope.setdefault("router", self.router)
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=getattr(route, "path_format", None), mount=isinstance(route, Mount))
        await route.handle(scope, receive, send)

    async def _included(
        self, leaf: Leaf, child_scope: Scope, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # as APIRouter.app, then each _IncludedRouter.handle and _handle_selected, do on the way down
        context = leaf.route
        assert isinstance(context, _EffectiveRouteContext) and isinstance(context.original_route, APIRoute)
        _apply_router_form_limits(scope, self.router.form_limits)
        scope.setdefault("router", self.router)
        fastapi_scope = _get_fastapi_scope(scope)
        for branch in leaf.branches:
            _apply_router_form_limits(scope, branch.include_context.form_limits)
            fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = branch
        original = context.original_route
        child_scope["route"] = original
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=context.path_format, mount=False)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        scope["route"] = original
        await original.handle(scope, receive, send)


def install(app: FastAPI) -> PrefixDispatch | None:
    """Put the index in front of the app's router; None (FastAPI's walk stays) if the router has
    middleware of its own, which the index would skip."""
    router = app.router
    if router.middleware_stack != router.app:
        return None
    dispatch = PrefixDispatch(router, router.middleware_stack)
    router.middleware_stack = dispatch
    return dispatch

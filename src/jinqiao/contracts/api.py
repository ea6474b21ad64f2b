"""What a member contract imports: ``from jinqiao.contracts.api import Contract, method, query``.

The same shape as the built-in contracts (``jinqiao.execution.api``), without the argument type:
a member's argument types are declared in its manifest (``contract.toml``), which the check
compares with the code. Inside the sandbox these three names are all the module offers.

    class Counter(Contract):
        @method(roles=("bank",))
        def add(self, ctx, args):
            total = ctx.state.load(b"total") or 0
            ctx.state.save(b"total", total + args.amount_minor)
            ctx.emit("Added", amount_minor=args.amount_minor)

        @query
        def total(self, ctx, args):
            return ctx.state.load(b"total") or 0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

DECLARATION_ATTRIBUTE = "_jinqiao_member_declaration"
"""Where ``method``/``query`` leave their mark on a function: ``(kind, roles)``."""

METHOD = "method"
QUERY = "query"


class Contract:
    """The base class of a member contract. It holds no state: every value lives in
    ``ctx.state``, and the sandbox refuses attribute writes."""

    __slots__ = ()


def declare(function: F, kind: str, roles: tuple[str, ...]) -> F:
    setattr(function, DECLARATION_ATTRIBUTE, (kind, tuple(sorted(roles))))
    return function


@overload
def method(function: F, /) -> F: ...
@overload
def method(*, roles: Iterable[str] = ()) -> Callable[[F], F]: ...
def method(function: Any = None, /, *, roles: Iterable[str] = ()) -> Any:
    """A state-changing method; with ``roles``, the sender must hold one of them."""
    if function is not None:
        return declare(function, METHOD, ())
    chosen = tuple(roles)
    return lambda marked: declare(marked, METHOD, chosen)


def query(function: F, /) -> F:
    """A read-only query, run against committed state."""
    return declare(function, QUERY, ())

"""Decision 0122: which keys may call a route, from the route's named scopes (pure)."""

from __future__ import annotations

import pytest

from lrs_platform.identity import OperatorScope, Principal, operator_scope, parse_scopes


@pytest.mark.parametrize(
    ("principal", "route_scopes", "allowed"),
    [
        ("operator:all", [], True),  # no scopes: everything, a route naming none too
        ("operator:all", ["rebuild"], True),
        ("operator:oncall|dead-letters", ["dead-letters"], True),
        ("operator:oncall|dead-letters", ["rebuild", "dead-letters"], True),
        ("operator:oncall|dead-letters", ["rebuild"], False),
        ("operator:oncall|dead-letters", [], False),  # a route naming none is closed to scoped keys
        ("ao:RN5133", [], True),  # other callers: the route decides
        ("learner:1000000043", ["support"], True),
    ],
)
def test_a_scoped_operator_key_calls_only_routes_naming_one_of_its_scopes(
    principal: str, route_scopes: list[str], allowed: bool
) -> None:
    text, _, scopes = principal.partition("|")
    caller = Principal.parse(text, frozenset(scopes.split(",")) if scopes else frozenset())
    assert caller.may_use(route_scopes) is allowed


def test_a_route_names_its_scopes_in_its_openapi_operation() -> None:
    assert operator_scope(OperatorScope.SUPPORT, OperatorScope.MAINTENANCE) == {
        "x-operator-scopes": ["support", "maintenance"]
    }


def test_unknown_scope_names_are_refused_with_the_known_ones() -> None:
    assert parse_scopes(["erasure", "keys"]) == {"erasure", "keys"}
    with pytest.raises(ValueError, match=r"unknown scope.*read-everything; the scopes are support, registry"):
        parse_scopes(["read-everything"])

"""The app's route table: the order the routes are tried in changes no request's route."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from functions.api.app import create_app


def test_no_two_routes_of_one_method_match_a_common_path():
    # The app lists the players' hot reads first (`functions.api.app.create_app`); that is
    # only safe while a path names at most one route per method.
    routes = [route for route in create_app().routes if isinstance(route, APIRoute)]
    for route in routes:
        # A path parameter stands for a value of any segment, so the route's own template with
        # each parameter as a word reaches every route that could take one of its paths.
        sample = re.sub(r"\{[^}]+\}", "x1", route.path)
        for other in routes:
            if other is not route and other.methods & route.methods:
                assert not other.path_regex.match(sample), (route.path, other.path)


def test_the_players_reads_are_tried_first():
    paths = [route.path for route in create_app().routes if isinstance(route, APIRoute)]
    hot = [
        "/api/v1/wallet/balance",
        "/api/v1/wallet/transactions",
        "/api/v1/lobby/tables",
        "/api/v1/hands",
        "/api/v1/hands/{hand_id}",
    ]
    assert max(paths.index(path) for path in hot) < 10

"""The error shape outside the routes' own checks: unknown routes and methods (DESIGN §2.7)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.gale import error


@pytest.mark.parametrize("path", ["/api/public/nope", "/api/public/files/session/a/b/c",
                                  "/api/public/models/cm-x/unknown", "/nothing"])
def test_unknown_route_is_404_in_the_error_shape(api: httpx.Client, path: str) -> None:
    error(api.get(path), 404, "NOT_FOUND")


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/public/files/session/start"),
    ("PUT", "/api/public/dock-status/ds-00000000-0000-4000-8000-000000000000"),
    ("PATCH", "/api/public/models"),
    ("POST", "/api/public/limits"),
])
def test_wrong_method_is_405_in_the_error_shape(api: httpx.Client, method: str,
                                                path: str) -> None:
    error(api.request(method, path), 405)

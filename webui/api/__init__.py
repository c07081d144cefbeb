"""The JSON API at /api/v1: routes, who is calling, request parsing, response shapes, errors and
the OpenAPI document."""

"""The Sentinel-compatible API as a FastAPI sub-application, mounted at `/subscriptions`.

It shares the main app's services (database, clock, key cache) and answers every failure as an
ARM CloudError (`muster.compat.sentinel.errors`). docs/compatibility.md describes what it serves.
The routes read `api-version` and their JSON bodies themselves (to answer in ARM's terms), so
the app's OpenAPI declares both here, with the CloudError answers of every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from muster import __version__
from muster.api import problems
from muster.api.deps import Services, refuse_nul_in_url
from muster.api.openapi_errors import ErrorFormat, declare_errors
from muster.compat.sentinel import routes
from muster.compat.sentinel.errors import CloudError, render_cloud_error
from muster.compat.sentinel.schemas import CommentIn, IncidentIn, RelationIn

MOUNT_PATH = "/subscriptions"
# the PUT bodies, by the last segment of the operation's path
PUT_BODIES: dict[str, type[BaseModel]] = {
    "{incident_id}": IncidentIn,
    "{comment_id}": CommentIn,
    "{name}": RelationIn,
}


def create_app(services: Services) -> FastAPI:
    """The sub-app serving Sentinel's incidents routes over `services`."""
    app = FastAPI(
        title="muster: Microsoft Sentinel-compatible API",
        version=__version__,
        description="The incidents, comments, relations, alerts and entities routes of the "
        "Microsoft Sentinel REST API over muster; the workspace name is the tenant id and the "
        "bearer token a muster API key.",
        dependencies=[Depends(refuse_nul_in_url)],
    )
    app.state.services = services
    problems.install(app, render_cloud_error)
    app.include_router(routes.router)
    declare_errors(
        app,
        ErrorFormat(CloudError, "application/json", stale_status=409),
        declare_api_version,
        declare_put_bodies,
    )
    return app


def declare_api_version(spec: dict[str, Any]) -> None:
    """Declare the `api-version` query parameter every route requires (`routes.caller`)."""
    parameter = {
        "name": "api-version",
        "in": "query",
        "required": True,
        "description": "the API version, YYYY-MM-DD or YYYY-MM-DD-preview",
        "schema": {"type": "string", "pattern": routes.API_VERSION.pattern},
    }
    for item in spec["paths"].values():
        for operation in item.values():
            operation.setdefault("parameters", []).append(parameter)


def declare_put_bodies(spec: dict[str, Any]) -> None:
    """Declare the JSON body of each PUT (the routes validate it with these models)."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for path, item in spec["paths"].items():
        model = PUT_BODIES.get(path.rsplit("/", 1)[-1])
        if "put" not in item or model is None:
            continue
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        item["put"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref}},
        }

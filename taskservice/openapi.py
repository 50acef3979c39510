"""The service's OpenAPI document: its own title, and each `execute_<Method>` as an execute body.

Execute parses its body by hand (it is a hot path), so FastAPI cannot see the
per-method parameter models. This module publishes them: the request body of
`POST /control/execute` is a `oneOf` of one schema per method, discriminated
by `method`, each carrying the method's docstring and its parameters model.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

from fastapi import FastAPI

from .methods import MethodSpec
from .models import ExecuteRequest, ExecuteResponse, OutputResponse, TaskRecord

DEFAULT_TITLE = "Concurrent Service"
_REF = "#/components/schemas/{model}"


def service_title(module: ModuleType | Any, configured: str | None) -> str:
    """`SERVICE_TITLE`, else the first line of the module's docstring ("Motion-stage service")."""
    if configured:
        return configured
    doc = (inspect.getdoc(module) or "").strip()
    first = doc.splitlines()[0] if doc else ""
    first = first.split(":", 1)[0].strip().rstrip(".")
    return first or DEFAULT_TITLE


def _split(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    defs = dict(schema.get("$defs", {}))
    return {k: v for k, v in schema.items() if k != "$defs"}, defs


def method_schemas(methods: dict[str, MethodSpec]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(components to add, the execute request-body schema) for `methods`."""
    base, components = _split(ExecuteRequest.model_json_schema(ref_template=_REF))
    components["ExecuteRequest"] = base
    if not methods:
        return components, {"$ref": _REF.format(model="ExecuteRequest")}
    refs: dict[str, str] = {}
    for name, spec in sorted(methods.items()):
        props = dict(base.get("properties", {}))
        props["method"] = {"type": "string", "const": name, "enum": [name], "title": "Method"}
        params_model = spec.options.parameters
        if params_model is not None:
            pschema, pdefs = _split(params_model.model_json_schema(ref_template=_REF))
            key = params_model.__name__
            if key in components and components[key] != pschema:
                key = f"{name}_{key}"
            components.update({k: v for k, v in pdefs.items() if k not in components})
            components[key] = pschema
            props["parameters"] = {"$ref": _REF.format(model=key)}
        kind = "background (202, then status/output)" if spec.background else "quick (200 with its output)"
        doc = spec.doc or f"`execute_{name}`"
        schema_name = f"Execute_{name}"
        components[schema_name] = {
            "title": schema_name, "type": "object", "description": f"{doc}\n\n*{kind}*",
            "properties": props, "required": sorted({"method", *base.get("required", [])}),
        }
        refs[name] = _REF.format(model=schema_name)
    body = {"oneOf": [{"$ref": r} for r in refs.values()],
            "discriminator": {"propertyName": "method", "mapping": refs}}
    return components, body


def _model_components(*models: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema, defs = _split(model.model_json_schema(ref_template=_REF))
        out.update(defs)
        out[model.__name__] = schema
    return out


def _content(model: str | None, description: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model=model)} if model else {"type": "object",
                                                                "properties": {"detail": {"type": "string"}}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("/control/execute", "post"): {
        "200": _content("ExecuteResponse", "a quick method's result: `complete` with its output, or `failed`"),
        "202": _content("TaskRecord", "a background task was accepted (or this task id already exists); "
                                      "follow `Location`"),
        "400": _content(None, "unknown method (the message lists the known ones)"),
        "409": _content(None, "the task id exists with other work, or the method's resource is busy"),
        "503": _content(None, "the service is shutting down"),
    },
    ("/control/status/{task_id}", "get"): {"200": _content("TaskRecord", "the task's record"),
                                          "404": _content(None, "unknown task id")},
    ("/control/status", "get"): {"200": _content("TaskRecord", "the task's record"),
                                "404": _content(None, "unknown task id")},
    ("/control/output/{task_id}", "get"): {"200": _content("OutputResponse", "the output of a complete task"),
                                          "404": _content(None, "unknown task id"),
                                          "409": _content(None, "the task is not complete (its status is given)")},
    ("/control/stop/{task_id}", "post"): {"200": _content("TaskRecord", "`cancelled`, or `stopping` until the "
                                                                       "work has stopped"),
                                         "404": _content(None, "unknown task id"),
                                         "409": _content(None, "the task has already finished")},
}


def _methods_markdown(methods: dict[str, MethodSpec]) -> str:
    lines = ["Start `method`; background work answers 202 at once, quick methods 200 with their output.",
             "", "Methods of this service:", ""]
    for name, spec in sorted(methods.items()):
        summary = spec.doc.splitlines()[0] if spec.doc else ""
        lines.append(f"- **{name}** ({'background' if spec.background else 'quick'}): {summary}")
    return "\n".join(lines)


def install(app: FastAPI, methods: dict[str, MethodSpec]) -> None:
    """Publish the per-method execute bodies in `app`'s OpenAPI document (built once, on first read)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components, body = method_schemas(methods)
            components.update(_model_components(ExecuteResponse, TaskRecord, OutputResponse))
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            for (path, verb), responses in _RESPONSES.items():
                operation = schema.get("paths", {}).get(path, {}).get(verb)
                if operation is not None:
                    operation.setdefault("responses", {}).update(responses)
            execute = schema.get("paths", {}).get("/control/execute", {}).get("post")
            if execute is not None:
                execute["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
                execute["description"] = _methods_markdown(methods)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

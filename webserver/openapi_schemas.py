"""The OpenAPI document's schemas, generated from the models, and builders for its operations.

Every object and request schema comes from the pydantic models of :mod:`common.schemas` (requests)
and :mod:`common.objects` (answers), which hold the contract's limits (:mod:`common.limits`); the
backend validates with the same models. This module turns them into OpenAPI 3.0 (pydantic writes
JSON Schema 2020-12) and builds parameters, responses and operations around them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from common import limits, objects, schemas
from common.codes import STATUS

Schema = dict[str, Any]
Model = type[BaseModel]

REF = "#/components/schemas/{model}"
ERROR_CODES = tuple(STATUS)

# Every model a document may name, by name: the operations refer to them with ref().
MODELS: dict[str, Model] = {
    name: value
    for module in (schemas, objects)
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
}


class OpenApi30(GenerateJsonSchema):
    """pydantic's JSON Schema in OpenAPI 3.0's dialect: ``nullable`` rather than a null type,
    ``enum`` rather than ``const``, and no generated titles."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        """Property titles only repeat the property's name."""
        return False

    def nullable_schema(self, schema: Any) -> Schema:
        """``X | None`` as X with ``nullable`` (3.0 ignores a ``$ref``'s siblings, hence the allOf)."""
        inner = self.generate_inner(schema["schema"])
        return {"allOf": [inner], "nullable": True} if "$ref" in inner else {**inner, "nullable": True}

    def literal_schema(self, schema: Any) -> Schema:
        """A one-value Literal as a one-value enum: ``const`` is not OpenAPI 3.0."""
        result = super().literal_schema(schema)
        if "const" in result:
            result = {key: value for key, value in result.items() if key != "const"}
            result["enum"] = [schema["expected"][0]]
        return result


def components(names: set[str]) -> dict[str, Schema]:
    """The component schemas of the models ``names`` and of every model they contain."""
    chosen = [(MODELS[name], "validation") for name in sorted(names)]
    _, top = models_json_schema(chosen, ref_template=REF, schema_generator=OpenApi30)
    found = top.get("$defs", {})
    for schema in found.values():
        schema.pop("title", None)
    return dict(sorted(found.items()))


def referenced(node: Any) -> set[str]:
    """The component names that ``$ref``s anywhere in ``node`` point to."""
    if isinstance(node, dict):
        names = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return names.union(*(referenced(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(referenced(value) for value in node))
    return set()


# What each error code means, for the responses' descriptions.
STATUS_TEXT = {
    400: "The body is not a JSON object (invalid_json).",
    401: "Not signed in, or the session ended.",
    403: "Not allowed.",
    404: "No such room, or a private room or DM the caller is not in (not_found).",
    413: f"The body is over {limits.MAX_BODY_BYTES:,} bytes (payload_too_large).",
    422: "A value is out of range; the message names the field (validation_error).",
    429: "Too many requests; wait the seconds in Retry-After (rate_limited).",
    503: "The backend cannot be reached or is too slow, or every place for a request to it stayed "
    "taken (backend_unavailable), or it could not write to its disk (storage_unavailable); "
    "retrying the same request is safe.",
}


def ref(model: Model | str) -> Schema:
    """A reference to the component schema of a model (given as the class, or its name)."""
    name = model if isinstance(model, str) else model.__name__
    if MODELS.get(name) is None:
        raise KeyError(f"{name} is not a model of common.schemas or common.objects")
    return {"$ref": REF.format(model=name)}


def json_content(schema: Schema) -> dict:
    """A JSON content map."""
    return {"application/json": {"schema": schema}}


def answer(
    description: str,
    body: Model | Schema | None = None,
    headers: dict | None = None,
    links: dict | None = None,
) -> dict:
    """A response object whose body is a model (or a schema); none means an empty body."""
    response: dict[str, Any] = {"description": description}
    if body is not None:
        response["content"] = json_content(body if isinstance(body, dict) else ref(body))
    if headers:
        response["headers"] = headers
    if links:
        response["links"] = links
    return response


def error(status: int, *codes: str, description: str | None = None) -> dict:
    """An error response whose ``error.code`` is one of ``codes``."""
    code_enum = {"type": "string", "enum": list(codes)}
    schema = {
        "allOf": [
            ref(objects.Error),
            {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": code_enum}}},
            },
        ]
    }
    headers = None
    if status == 429:
        headers = {
            "Retry-After": {
                "required": True,
                "description": "Whole seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return answer(description or STATUS_TEXT[status], schema, headers)


def query(model: Model) -> list[dict]:
    """The query parameters of a query model, with their fields' descriptions."""
    schema = model.model_json_schema(ref_template=REF, schema_generator=OpenApi30)
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("nullable", None)  # a parameter is absent, never null
        if "default" in prop and prop["default"] is None:
            del prop["default"]
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
                "description": description,
            }
        )
    return params


def path_param(name: str, description: str) -> dict:
    """A path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def operation(
    operation_id: str,
    summary: str,
    responses: dict[int, dict],
    *,
    body: Model | None = None,
    params: list | None = None,
    cookie: str = "required",
    changes: bool = False,
) -> dict:
    """One operation, with the error answers every such operation can give added to ``responses``.

    Every operation is relayed to the backend, so each may be refused with 429 when its caller
    has too many requests in progress (:mod:`webserver.backend_share`). ``body`` is the request
    model; ``cookie`` is ``"required"`` (a 401 without it), ``"optional"`` (used when sent, never a
    401) or ``"none"`` (not looked at); ``changes`` marks a state-changing method, which the origin
    rule may refuse with 403 forbidden.
    """
    answers = dict(responses)
    if body is not None:
        answers.setdefault(400, error(400, "invalid_json"))
        answers.setdefault(413, error(413, "payload_too_large"))
        answers.setdefault(422, error(422, "validation_error"))
    if cookie == "required":
        answers.setdefault(401, error(401, "unauthenticated"))
    if changes:
        answers.setdefault(403, error(403, "forbidden", description="The Origin header is not allowed."))
    busy = "Too many of this caller's requests in progress at once (rate_limited); see Retry-After."
    answers.setdefault(429, error(429, "rate_limited", description=busy))
    unavailable = ("backend_unavailable", "storage_unavailable") if changes else ("backend_unavailable",)
    answers.setdefault(503, error(503, *unavailable))
    result: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {str(k): answers[k] for k in sorted(answers)},
    }
    if params:
        result["parameters"] = params
    if body is not None:
        result["requestBody"] = {"required": True, "content": json_content(ref(body))}
    if cookie == "none":
        result["security"] = []
    elif cookie == "optional":
        result["security"] = [{}, {"session": []}]
    return result

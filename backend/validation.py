"""Reading what a caller sends: the JSON body, then one of the request models of :mod:`common.schemas`.

The models hold every rule and limit; here they are applied, and what they refuse becomes
:class:`~backend.refusals.Invalid` with a message naming the field, so routes read as "parse, then
act" and no route builds an error by hand. Bodies are checked strictly (a JSON string is not a
number), queries leniently (a query's values are strings, read as numbers where the model says so).
"""

from __future__ import annotations

from typing import TypeVar

from flask import Request
from pydantic import BaseModel, ValidationError

from common import jsontext, limits

from .refusals import Invalid, InvalidJson, TooLarge

Model = TypeVar("Model", bound=BaseModel)


def json_body(request: Request) -> dict:
    """The request's JSON object, or InvalidJson (TooLarge past MAX_CONTENT_LENGTH, chunked too)."""
    data = request.get_data(cache=True)
    if request.content_length is None and len(data) >= (request.max_content_length or len(data) + 1):
        # A chunked body is cut at the limit without an error; treat reaching it as going over.
        raise TooLarge(f"The request body is larger than {limits.MAX_BODY_BYTES:,} bytes.")
    try:
        body = jsontext.loads(data)
    except jsontext.NotUnicode as error:
        raise Invalid(str(error)) from None
    except jsontext.NotJson:
        body = None
    if not isinstance(body, dict):
        raise InvalidJson("The request body must be a JSON object.")
    return body


def body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body as ``model``."""
    return parse(model, json_body(request))


def query(request: Request, model: type[Model]) -> Model:
    """The request's query string as ``model`` (a repeated parameter counts once, the first)."""
    return parse(model, request.args.to_dict())


def parse(model: type[Model], data: dict) -> Model:
    """``data`` as ``model``, or Invalid naming the first field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Invalid(_message(error.errors(include_url=False, include_input=False)[0])) from None


def _message(error: dict) -> str:
    location = error["loc"]
    if not location:  # a rule across fields, such as after with before: its own sentence
        return error["msg"]
    field = str(location[0]) + "".join(f"[{part}]" for part in location[1:])
    if error["type"] == "missing":
        return f"'{field}' is required."
    return f"'{field}': {error['msg']}."

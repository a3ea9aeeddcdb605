"""Check real responses against the OpenAPI document the service publishes."""

from jsonschema import Draft202012Validator

from api.openapi import DOCUMENT


def _resolve(item: dict) -> dict:
    if "$ref" in item:  # "#/components/responses/X"
        _, section, kind, name = item["$ref"].split("/")
        return DOCUMENT[section][kind][name]
    return item


def assert_matches_openapi(response, path: str, method: str = "get") -> None:
    """The response's status is documented for the operation and its body fits the schema."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {path} answered an undocumented {status}"
    documented = _resolve(responses[status])
    assert response.mimetype == "application/json"
    schema = documented["content"]["application/json"]["schema"]
    validator = Draft202012Validator(
        {**schema, "components": DOCUMENT["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(response.get_json())
    for header, described in documented.get("headers", {}).items():
        if described.get("required") is False:
            continue
        if header == "Link" and response.get_json().get("next_cursor") is None:
            continue
        assert header in response.headers, f"documented header {header} is missing"

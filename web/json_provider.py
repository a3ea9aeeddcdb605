"""Flask's JSON responses through orjson: several times faster than the standard library at
turning a page of comments into bytes, with the same output (UTF-8, keys in order, compact).

Request bodies are still parsed by payload.py with the standard library, whose errors for NaN,
deep nesting and huge integers the validation relies on.
"""

import orjson
from flask.json.provider import JSONProvider


class OrjsonProvider(JSONProvider):
    mimetype = "application/json; charset=utf-8"

    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        body = orjson.dumps(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, content_type=self.mimetype)  # as it is: no parsing

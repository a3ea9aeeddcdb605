"""POST /preview: a comment's words as they would be shown, rendered as a post is (core/formatting.py).

The widget's form asks for it when the reader presses Preview. Rendering costs the server some
work, so previews have a limit of their own per client, apart from posts and votes.
"""

from flask import Blueprint, current_app, jsonify, request

from comment import validate_preview
from core import formatting
from db import database
from web import auth, payload

blueprint = Blueprint("preview", __name__)

PREVIEW_LIMIT = (60, 60)  # a minute's worth: a reader checking their words, not a rendering service


@blueprint.post("/preview")
def preview():
    payload.reject_query(request)
    text = validate_preview(payload.read_json_body(request, current_app.config["MAX_CONTENT_LENGTH"]))
    database().charge(f"preview:{auth.current_client()}", PREVIEW_LIMIT)
    return jsonify(html=formatting.render(text))

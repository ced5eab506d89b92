"""``apigw``: bots behind AWS API Gateway WebSocket APIs.

API Gateway picks the backend route from a field of the request (its route selection expression,
usually ``$request.body.action``), so every prompt carries ``"action"``. The backend streams its
reply with ``postToConnection``, in a format of its own: the defaults below read
``{"type": "chunk", "text": ...}`` ... ``{"type": "end"}`` and every part is configurable as for
``json``. API Gateway's own error replies (``{"message": "Internal server error",
"connectionId": ..., "requestId": ...}``, or ``"Forbidden"`` for an unknown route) are failures.
"""

from __future__ import annotations

import argparse
import json

from ...errors import ConfigurationError
from .base import Protocol
from .json_messages import JsonProtocol

__all__ = ["ApiGatewayProtocol"]


class ApiGatewayProtocol(JsonProtocol):
    """JSON with an ``action`` route key; API Gateway's error replies count as failures.

    Args:
        action: the route key value; when None, the template's ``action``, else ``sendMessage``.
        template: the request without its action (``{"data": {"prompt": "{prompt}"}}`` by default);
            the action is added to it.
    """

    name = "apigw"

    DEFAULT_ACTION = "sendMessage"
    DEFAULT_TEMPLATE = '{"data": {"prompt": "{prompt}"}}'
    # API Gateway's own replies carry connectionId and requestId; a bot's stream does not.
    DEFAULT_ERROR = "type=error|connectionId"

    def __init__(self, action: str | None = None, template: str | None = None, **kwargs: str | None) -> None:
        super().__init__(template=template, **kwargs)
        document = self.template.document
        if not isinstance(document, dict):
            raise ConfigurationError("apigw request template must be a JSON object")
        self.action = action or document.get("action") or self.DEFAULT_ACTION
        rest = {key: value for key, value in document.items() if key != "action"}
        self.template.document = {"action": self.action, **rest}

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        return cls(
            action=getattr(options, "apigw_action", None),
            template=getattr(options, "json_template", None),
            chunk_path=getattr(options, "json_chunk_path", None),
            end=getattr(options, "json_end", None),
            error=getattr(options, "json_error", None),
            error_path=getattr(options, "json_error_path", None),
            id_path=getattr(options, "json_id_path", None) or None,
        )

    def __repr__(self) -> str:
        return f"ApiGatewayProtocol(request={json.dumps(self.template.document)})"

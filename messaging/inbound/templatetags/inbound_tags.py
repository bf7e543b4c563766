from __future__ import annotations

from typing import Any

from django import template

from messaging.inbound.selectors import receipt_panel

register = template.Library()


@register.simple_tag
def inbound_panel(message: Any) -> Any:
    return receipt_panel(message)

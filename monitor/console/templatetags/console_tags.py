from __future__ import annotations

from django import template

from exams.state_machine import STATUS_LABELS, Status
from monitor.console import labels

register = template.Library()


@register.filter
def kind_label(value: str) -> str:
    return labels.kind_label(str(value))


@register.filter
def status_label(value: str) -> str:
    try:
        return str(STATUS_LABELS[Status(value)])
    except ValueError:
        return str(value)


@register.filter
def phone_label(value: str) -> str:
    return str(labels.PHONE_LABELS.get(str(value), value))

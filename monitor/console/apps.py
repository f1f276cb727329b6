from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The proctor console (issue 7): live grid, alerts, candidate view, actions, review."""

    name = "monitor.console"
    label = "console"
    verbose_name = _("监考台")

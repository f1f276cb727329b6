from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "monitor"

    def ready(self) -> None:
        from monitor import broadcast

        broadcast.connect_signals()

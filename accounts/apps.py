from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.roles import post_migrate_ensure_groups

        # After every app's migrate (permissions are created per app in post_migrate too, so the
        # last call sees them all); idempotent.
        post_migrate.connect(post_migrate_ensure_groups, dispatch_uid="accounts.ensure_groups")

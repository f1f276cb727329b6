from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from media_pipeline.evidence import signing


class Command(BaseCommand):
    help = "Print the Ed25519 public key that verifies this deployment's evidence bundles (publish it)."

    def handle(self, *args: Any, **options: Any) -> None:
        key = signing.configured_public_key()
        self.stdout.write(f"algorithm: {signing.ALGORITHM}")
        self.stdout.write(f"key_id: {signing.key_id(key)}")
        self.stdout.write(f"public_key_hex: {signing.public_key_bytes(key).hex()}")

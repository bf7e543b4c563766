from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence and reconciliation"

    def ready(self) -> None:
        from dcp.vault import register_sealed_field
        from evidence.services import protect_packed_messages
        from retention.services import register_protector

        register_sealed_field("evidence.EvidenceKey", "private_key_sealed")
        # The retention purge never deletes a message an unexpired evidence pack covers.
        register_protector(protect_packed_messages)

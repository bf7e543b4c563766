from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = "Participants (onboarding)"

    def ready(self) -> None:
        from dcp.vault import register_sealed_field

        register_sealed_field("participants.ApiKey", "sealed")

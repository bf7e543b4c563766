from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "messaging.inbound"
    label = "messaging_inbound"
    verbose_name = "Inbound messages and client delivery"

    def ready(self) -> None:
        from dcp.vault import register_sealed_field
        from messaging.inbound import routes

        routes.connect_signals()
        register_sealed_field("messaging_inbound.ClientEndpoint", "secret_sealed")
        register_sealed_field("messaging_inbound.ClientEndpoint", "previous_secret_sealed")

from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "messaging.outbound"
    label = "messaging_outbound"
    verbose_name = "Outbound pipeline"
    default_auto_field = "django.db.models.BigAutoField"

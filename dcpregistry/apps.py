from django.apps import AppConfig


class DcpRegistryConfig(AppConfig):
    name = "dcpregistry"
    verbose_name = "DCP registry (public schema)"

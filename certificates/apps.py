from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "certificates"
    verbose_name = "Keys and certificates"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dcp.vault import register_sealed_field

        # rotate_master_key re-wraps every private key in every tenant schema.
        register_sealed_field("certificates.PrivateKey", "sealed_pem")
        register_sealed_field("certificates.CertificateAuthority", "sealed_key_pem")

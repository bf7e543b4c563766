from __future__ import annotations

from rest_framework import serializers

from ..models import Alert, Certificate, Environment, KeyType, Usage


class CertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certificate
        fields = [
            "id", "environment", "usage", "dip_ids", "state", "provider", "provider_reference",
            "subject", "issuer", "sans", "serial", "fingerprint_sha256", "fingerprint_sha1",
            "not_before", "not_after", "switch_over_at", "activated_at", "retired_at",
            "revoked_at", "revocation_reason", "renewal_of", "last_error", "certificate_pem",
            "chain_pem", "created",
        ]  # fmt: skip
        read_only_fields = fields


class RequestSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    usage = serializers.ChoiceField(choices=Usage.choices)
    dip_ids = serializers.ListField(child=serializers.CharField(max_length=10))
    common_name = serializers.CharField(max_length=200)
    dns_names = serializers.ListField(child=serializers.CharField(max_length=253), required=False)
    key_type = serializers.ChoiceField(choices=KeyType.choices, default=KeyType.RSA_2048)
    provider = serializers.ChoiceField(choices=["local_ca", "globalsign"], required=False)


class ImportSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    usage = serializers.ChoiceField(choices=Usage.choices)
    dip_ids = serializers.ListField(child=serializers.CharField(max_length=10))
    certificate_pem = serializers.CharField(required=False, default="")
    key_pem = serializers.CharField(required=False, default="")
    chain_pem = serializers.CharField(required=False, default="")
    pkcs12_base64 = serializers.CharField(required=False, default="")
    password = serializers.CharField(required=False, default="", trim_whitespace=False)


class RevokeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=["key_compromise", "superseded", "cessation_of_operation", "unspecified"]
    )


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id", "kind", "severity", "certificate", "domain_verification", "threshold_days",
            "message", "created", "acknowledged_at",
        ]  # fmt: skip
        read_only_fields = fields

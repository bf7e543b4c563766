from __future__ import annotations

from typing import Any

from rest_framework import serializers

from evidence.models import EvidencePack


class PackSerializer(serializers.ModelSerializer[EvidencePack]):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = EvidencePack
        fields = [
            "public_id",
            "kind",
            "status",
            "period_start",
            "period_end",
            "interfaces",
            "dip_ids",
            "mpans",
            "progress",
            "total",
            "percent",
            "message_count",
            "size",
            "sha256",
            "manifest_sha256",
            "key_id",
            "error",
            "created",
            "created_by",
            "finished_at",
            "expires_at",
        ]
        read_only_fields = [
            f
            for f in fields
            if f not in ("kind", "period_start", "period_end", "interfaces", "dip_ids", "mpans")
        ]


class PackRequestSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=EvidencePack.Kind.choices, default="standard")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    interfaces = serializers.ListField(child=serializers.CharField(max_length=12), default=list)
    dip_ids = serializers.ListField(child=serializers.CharField(max_length=20), default=list)
    mpans = serializers.ListField(child=serializers.CharField(max_length=13), default=list)

"""Shapes of the console API's input and output (DRF serializers). They make a request a
mapping of the right types before ``console.search.build_query`` applies the search rules, so a
body that is a list, a number where a number is wanted or a NUL character gets a 400 naming the
field — never an exception inside the view."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

from console import search
from console.models import BulkAction
from messaging.models import ExceptionCategory, Message
from messaging.states import Direction, State

_TEXT_LIMIT = 200


def _strings(value: Any, field: serializers.Field) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if not isinstance(item, str | int):
            field.fail("invalid")
        text = str(item)
        if "\x00" in text:
            field.fail("null_characters")
        out.append(text)
    return out


class _StringsField(serializers.Field):
    """A string, or a list of strings; repeated query parameters give the list."""

    default_error_messages = {
        "invalid": "Send text, or a list of texts.",
        "null_characters": "Null characters are not allowed.",
    }

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            values = dictionary.getlist(self.field_name)
            return values[0] if len(values) == 1 else values
        return super().get_value(dictionary)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "One MPAN core per line (or comma-separated)."},
            {"type": "array", "items": {"type": "string"}, "maxItems": search.MAX_MPANS},
        ]
    }
)
class MpansField(_StringsField):
    def to_internal_value(self, data: Any) -> str:
        return "\n".join(_strings(data, self))

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "Comma-separated."},
            {"type": "array", "items": {"type": "string", "maxLength": _TEXT_LIMIT}},
        ]
    }
)
class TextListField(_StringsField):
    def to_internal_value(self, data: Any) -> list[str]:
        return [p.strip() for v in _strings(data, self) for p in v.split(",") if p.strip()]

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "field=value pairs, comma-separated."},
            {"type": "object", "additionalProperties": {"type": "string"}},
        ]
    }
)
class EnvelopeField(serializers.Field):
    default_error_messages = {
        "invalid": "Send field=value pairs, or an object of texts.",
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            pairs = {str(k): v for k, v in data.items()}
            if not all(isinstance(v, str | int) for v in pairs.values()):
                self.fail("invalid")
            if any("\x00" in k or "\x00" in str(v) for k, v in pairs.items()):
                self.fail("null_characters")
            return {k: str(v) for k, v in pairs.items()}
        if isinstance(data, list):
            self.fail("invalid")
        return _strings(data, self)[0]

    def to_representation(self, value: Any) -> Any:
        return value


class _Flag(serializers.BooleanField):
    """A boolean whose default also applies to a query string or form that leaves it out."""

    default_empty_html = empty


def _text() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=_TEXT_LIMIT)


class SearchParamsSerializer(serializers.Serializer):
    """What a console search filters on (all optional; see docs/console.md)."""

    mpans = MpansField(required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False, allow_blank=True)
    interface_ids = TextListField(required=False)
    event_code = _text()
    dip_id = _text()
    counterparty_dip_id = _text()
    status_group = serializers.ChoiceField(
        choices=sorted(search.STATUS_GROUPS), required=False, allow_blank=True
    )
    states = TextListField(required=False, help_text=f"Any of: {', '.join(State.values)}.")
    exception_category = serializers.ChoiceField(
        choices=ExceptionCategory.choices, required=False, allow_blank=True
    )
    created_from = _text()
    created_to = _text()
    transaction_id = _text()
    correlation_id = _text()
    sender_unique_reference = _text()
    any_id = _text()
    envelope = EnvelopeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            query, mpans = search.build_query(attrs)
        except search.SearchError as exc:
            raise serializers.ValidationError(exc.errors) from exc
        attrs["_query"], attrs["_mpans"] = query, mpans
        return attrs


class SearchRequestSerializer(SearchParamsSerializer):
    after = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="next_cursor of the last page."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=search.MAX_PAGE, default=100
    )
    count = _Flag(required=False, default=True, help_text="Also count the matches.")


class ExportQuerySerializer(SearchParamsSerializer):
    format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False, default="jsonl")


class BulkActionRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=BulkAction.Kind.choices, default=BulkAction.Kind.REQUEUE_OUTBOUND
    )
    search = SearchParamsSerializer(required=False)
    dry_run = _Flag(required=False, default=True, help_text="Preview only (the default).")
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=500)
    rate_per_second = serializers.IntegerField(
        required=False, min_value=1, max_value=100_000, default=2000
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "search" not in attrs:
            attrs["search"] = SearchParamsSerializer().validate({})
        return attrs


# --- responses -------------------------------------------------------------------------------


class MessageRowSerializer(serializers.ModelSerializer[Message]):
    class Meta:
        model = Message
        fields = (
            "id",
            "public_id",
            "created",
            "direction",
            "state",
            "interface_id",
            "event_code",
            "dip_id",
            "counterparty_dip_id",
            "mpan_core",
            "transaction_id",
            "correlation_id",
            "sender_unique_reference",
        )


class MpanErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    value = serializers.CharField()
    reason = serializers.CharField()


class CountSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    exact = serializers.BooleanField(help_text="False: the planner's estimate, above the cap.")


class SearchPageSerializer(serializers.Serializer):
    results = MessageRowSerializer(many=True)
    next_cursor = serializers.IntegerField(allow_null=True)
    mpan_errors = MpanErrorSerializer(many=True)
    count = CountSerializer(required=False)


class DryRunSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    matched = CountSerializer()
    eligible = CountSerializer()
    effect = serializers.CharField()
    sample = MessageRowSerializer(many=True)
    mpan_errors = MpanErrorSerializer(many=True)

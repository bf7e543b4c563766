from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from evidence.models import EvidencePack, InterfacePair
from evidence.selectors import Scope


def _split(text: str) -> tuple[str, ...]:
    return tuple(sorted({p.strip() for p in text.replace("\n", ",").split(",") if p.strip()}))


class ScopeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    interfaces = forms.CharField(required=False, help_text="Comma-separated, e.g. IF-021,IF-036")
    dip_ids = forms.CharField(required=False, label="DIP IDs")
    mpans = forms.CharField(required=False, label="MPANs")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError("The period ends before it starts.")
        return data

    def scope(self) -> Scope:
        data = self.cleaned_data if self.is_valid() else {}
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=6)
        return Scope(
            start,
            end,
            _split(data.get("interfaces", "")),
            _split(data.get("dip_ids", "")),
            _split(data.get("mpans", "")),
        )


class PackForm(ScopeForm):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(choices=EvidencePack.Kind.choices)


class PairForm(forms.ModelForm):
    class Meta:
        model = InterfacePair
        fields = ["request_interface_id", "response_interface_id", "limit_minutes", "description"]

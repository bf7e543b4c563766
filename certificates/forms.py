from __future__ import annotations

from django import forms

from .models import Environment, KeyType, Provider, Usage


class _Base(forms.Form):
    environment = forms.ChoiceField(choices=Environment.choices)
    usage = forms.ChoiceField(choices=Usage.choices, initial=Usage.SIGNING)
    dip_ids = forms.CharField(
        label="DIP IDs", help_text="10-character DIP IDs using this certificate, comma-separated."
    )

    def clean_dip_ids(self) -> list[str]:
        return [d.strip() for d in self.cleaned_data["dip_ids"].split(",") if d.strip()]


class RequestForm(_Base):
    common_name = forms.CharField(max_length=200)
    dns_names = forms.CharField(required=False, help_text="DNS SANs, comma-separated.")
    key_type = forms.ChoiceField(choices=KeyType.choices, initial=KeyType.RSA_2048)
    provider = forms.ChoiceField(
        choices=[(Provider.LOCAL_CA, "Local CA"), (Provider.GLOBALSIGN, "GlobalSign Atlas")]
    )

    def clean_dns_names(self) -> list[str]:
        return [d.strip() for d in self.cleaned_data["dns_names"].split(",") if d.strip()]


class ImportForm(_Base):
    pkcs12 = forms.FileField(required=False, label="PKCS#12 / PFX file")
    certificate_pem = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    key_pem = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Private key PEM"
    )
    chain_pem = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    password = forms.CharField(required=False, widget=forms.PasswordInput)


class RevokeForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[
            ("key_compromise", "Key compromise"),
            ("superseded", "Superseded"),
            ("cessation_of_operation", "Cessation of operation"),
        ]
    )


class SwitchOverForm(forms.Form):
    switch_over_at = forms.DateTimeField(label="Switch over at")

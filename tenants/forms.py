from __future__ import annotations

from django import forms

from tenants.models import Tenant
from tenants.roles import ClientRole


class TenantCreateForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organisation name")
    slug = forms.SlugField(
        max_length=40, help_text="Becomes <slug>.{domain}: lower-case letters, digits and hyphens."
    )
    market_role_summary = forms.CharField(
        max_length=200, required=False, label="Market role(s)", help_text="e.g. Supplier"
    )
    admin_email = forms.EmailField(
        required=False, label="First client admin's email", help_text="They receive an invitation."
    )


class TenantStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Tenant.Status.choices)
    reason = forms.CharField(max_length=500, required=False)


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=ClientRole.choices, initial=ClientRole.CLIENT_VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ClientRole.choices)


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False, label="Your name")
    password = forms.CharField(
        widget=forms.PasswordInput, min_length=12, help_text="At least 12 characters."
    )
    password_confirm = forms.CharField(widget=forms.PasswordInput, label="Repeat password")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", "The passwords differ.")
        if data.get("password"):
            from django.contrib.auth.password_validation import validate_password

            try:
                validate_password(str(data["password"]))
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data

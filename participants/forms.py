from __future__ import annotations

from django import forms

from dcpregistry.environments import Environment
from participants.models import CertificationItem, ChecklistItem
from participants.roles import EXTENDED_MDR_INTERFACES, OPTIONAL_MDR_INTERFACES, ROLE_CHOICES


class ProfileForm(forms.Form):
    company_name = forms.CharField(max_length=200)
    company_number = forms.CharField(max_length=10, required=False)
    registered_address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    contact_name = forms.CharField(max_length=200, required=False)
    contact_email = forms.EmailField(required=False)
    contact_phone = forms.CharField(max_length=40, required=False)
    domains = forms.CharField(max_length=500, required=False, help_text="Comma separated")


class ChecklistForm(forms.Form):
    status = forms.ChoiceField(choices=ChecklistItem.Status.choices)
    owner = forms.CharField(max_length=254, required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    blockers = forms.CharField(max_length=1000, required=False)


class MpidRoleForm(forms.Form):
    mpid = forms.CharField(max_length=10, label="MPID", help_text="4 upper-case letters")
    role_code = forms.ChoiceField(choices=ROLE_CHOICES, label="DIP role")


class DipIdForm(forms.Form):
    mpid_role = forms.IntegerField(widget=forms.Select, label="MPID / role")
    environment = forms.ChoiceField(choices=Environment.choices)
    value = forms.CharField(max_length=20, required=False, label="DIP ID (if the portal shows one)")


class NominateForm(forms.Form):
    dcp_id = forms.CharField(max_length=20, label="DCP ID we shared with you")
    whitelist_domains = forms.BooleanField(required=False, label="Whitelist DCP's domains")


class ChannelForm(forms.Form):
    interface_id = forms.CharField(
        max_length=10, label="Interface", help_text="IF-nnn, REP-nnn or STATUS"
    )
    obfuscated = forms.BooleanField(required=False, label="Carries obfuscated data")


class SelectionForm(forms.Form):
    interface_id = forms.ChoiceField(
        choices=[(i, i) for i in (*OPTIONAL_MDR_INTERFACES, *EXTENDED_MDR_INTERFACES)]
    )
    enabled = forms.BooleanField(required=False, initial=True)


class PairingForm(forms.Form):
    partner_name = forms.CharField(max_length=200)
    partner_mpid = forms.CharField(max_length=4, label="Partner MPID")
    partner_dip_id = forms.CharField(max_length=10, label="Partner DIP ID")


class CertificationForm(forms.Form):
    kind = forms.ChoiceField(choices=CertificationItem.Kind.choices)
    interface_id = forms.CharField(max_length=8, required=False)
    status = forms.ChoiceField(choices=CertificationItem.Status.choices)
    evidence = forms.CharField(max_length=2000, required=False)
    reused_from = forms.CharField(max_length=100, required=False, label="Reused from (client slug)")


class DcpIdCreateForm(forms.Form):
    environment = forms.ChoiceField(choices=Environment.choices)
    count = forms.IntegerField(min_value=1, max_value=500, initial=1)
    note = forms.CharField(max_length=200, required=False)


class TransferForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("trade_sale", "Trade sale"), ("solr", "Supplier of last resort")]
    )
    source = forms.SlugField()
    target = forms.SlugField()
    dip_ids = forms.CharField(help_text="DIP IDs that move, comma separated")
    cutover_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(max_length=500, required=False)


class OffboardForm(forms.Form):
    reason = forms.CharField(max_length=500)

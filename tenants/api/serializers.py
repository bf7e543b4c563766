from __future__ import annotations

from rest_framework import serializers

from tenants.models import Invitation, Membership, Tenant, User
from tenants.roles import ClientRole, StaffRole


class TenantSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "status",
            "status_reason",
            "market_role_summary",
            "created",
            "status_changed",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, obj: Tenant) -> str:
        return obj.url("/")


class TenantCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=40)
    admin_email = serializers.EmailField(required=False, allow_blank=True)
    market_role_summary = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TenantStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Tenant.Status.choices)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created"]
        read_only_fields = ["id", "user", "created"]


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.EmailField(
        source="invited_by.email", read_only=True, default=None, allow_null=True
    )
    is_expired = serializers.BooleanField(read_only=True)
    # Blank on the other kind of invitation (a staff invitation has no client role).
    staff_role = serializers.ChoiceField(
        choices=StaffRole.choices, read_only=True, allow_blank=True
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "staff_role",
            "status",
            "invited_by",
            "created",
            "expires",
            "accepted_at",
            "is_expired",
        ]
        read_only_fields = [
            "id",
            "status",
            "invited_by",
            "created",
            "expires",
            "accepted_at",
            "is_expired",
            "staff_role",
        ]
        extra_kwargs = {"role": {"required": True}}


class StaffInvitationSerializer(InvitationSerializer):
    role = serializers.ChoiceField(choices=ClientRole.choices, read_only=True, allow_blank=True)
    staff_role = serializers.ChoiceField(choices=StaffRole.choices)

    class Meta(InvitationSerializer.Meta):
        read_only_fields = [
            "id",
            "status",
            "invited_by",
            "created",
            "expires",
            "accepted_at",
            "is_expired",
            "role",
        ]
        extra_kwargs = {"staff_role": {"required": True}}


class MeSerializer(serializers.ModelSerializer):
    memberships = serializers.SerializerMethodField()
    staff_role = serializers.ChoiceField(
        choices=StaffRole.choices, read_only=True, allow_blank=True
    )

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "staff_role", "memberships"]
        read_only_fields = fields

    def get_memberships(self, obj: User) -> list[dict[str, str]]:
        return [
            {
                "tenant": m.tenant.slug,
                "name": m.tenant.name,
                "role": m.role,
                "url": m.tenant.url("/"),
            }
            for m in obj.memberships.select_related("tenant").order_by("tenant__name")
        ]


ROLE_CHOICES = ClientRole.choices
STAFF_ROLE_CHOICES = StaffRole.choices

from __future__ import annotations

from typing import Any, cast

import factory
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from tenants.models import Membership, User
from tenants.roles import MFA_REQUIRED_CLIENT_ROLES, ClientRole, StaffRole

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    class Params:
        dcp_admin = factory.Trait(staff_role=StaffRole.DCP_ADMIN)
        dcp_operator = factory.Trait(staff_role=StaffRole.DCP_OPERATOR)

    @factory.post_generation
    def mfa(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        """``UserFactory(mfa=True)`` gives the user a TOTP authenticator; the secret is kept on
        the instance as ``totp_secret`` for tests that log in with a code."""
        obj.save()
        if extracted:
            secret = generate_totp_secret()
            TOTP.activate(obj, secret)
            obj.totp_secret = secret


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = ClientRole.CLIENT_VIEWER


def member(tenant: Any, role: str, **user_kwargs: Any) -> User:
    """A member of ``tenant``; roles the MFA policy covers get a TOTP authenticator."""
    user_kwargs.setdefault("mfa", role in MFA_REQUIRED_CLIENT_ROLES)
    user = cast(User, UserFactory(**user_kwargs))
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


def staff(role: str = StaffRole.DCP_ADMIN, **user_kwargs: Any) -> User:
    user = cast(User, UserFactory(staff_role=role, mfa=True, **user_kwargs))
    return user


def has_totp(user: User) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

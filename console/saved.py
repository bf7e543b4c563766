"""Saved console searches: who may keep, share, open and delete them.

Anyone who may view messages keeps *private* searches (only they see and open them). Sharing a
search with the whole tenant is a write others see, so it takes the right to operate messages
(operators, client admins, DCP staff); viewers and auditors keep private ones only. Every
write is audited in the same transaction; opening checks owner-or-shared, so a guessed id
shows nothing."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet

from audit.services import record
from console import search
from console.models import SavedSearch
from tenants.models import Tenant, User
from tenants.permissions import Action, require


class SavedSearchRefused(ValueError):
    """The input cannot make a saved search (the message says why)."""


def visible_to(user: User) -> QuerySet[SavedSearch]:
    """The user's own searches and the shared ones."""
    return SavedSearch.objects.filter(Q(owner=user.email) | Q(shared=True))


def get_visible(*, pk: int, user: User) -> SavedSearch:
    """Raises SavedSearch.DoesNotExist for another person's private search, as for none."""
    return visible_to(user).get(pk=pk)


def save_search(
    *, name: str, query: search.SearchQuery, user: User, tenant: Tenant, shared: bool = False
) -> SavedSearch:
    require(user, Action.VIEW_MESSAGES, tenant)
    if shared:
        require(user, Action.OPERATE_MESSAGES, tenant)
    name = name.strip()[:100]
    if not name:
        raise SavedSearchRefused("Give the search a name.")
    with transaction.atomic():
        saved = SavedSearch.objects.create(
            name=name, owner=user.email, shared=shared, params=query.to_params()
        )
        record(
            action="console.saved_search.created",
            actor=user,
            target=saved,
            summary=f"Saved search “{name}”" + (" (shared)" if shared else ""),
            changes={"shared": shared, "params": saved.params},
        )
    return saved


def delete_search(*, saved: SavedSearch, user: User, tenant: Tenant) -> None:
    """The owner deletes their search; a shared one may also be deleted by someone who may
    share (it is theirs to curate)."""
    require(user, Action.VIEW_MESSAGES, tenant)
    if saved.owner != user.email:
        if not saved.shared:
            raise SavedSearch.DoesNotExist
        require(user, Action.OPERATE_MESSAGES, tenant)
    with transaction.atomic():
        record(
            action="console.saved_search.deleted",
            actor=user,
            target=saved,
            summary=f"Deleted saved search “{saved.name}”",
            changes={"owner": saved.owner, "shared": saved.shared},
        )
        saved.delete()

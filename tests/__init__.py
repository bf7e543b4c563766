"""The test suite. ``Client.force_login`` stands for a full allauth sign-in (tests/auth.py)."""

from django.contrib.auth.signals import user_logged_in

from tests.auth import record_forced_login

user_logged_in.connect(record_forced_login, dispatch_uid="tests.auth.record_forced_login")

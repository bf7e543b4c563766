"""Issue 17: API tokens could be minted in the Django admin, without MFA and without an audit
entry, and never expired. Tokens are now issued only by tenants.tokens; every token that
exists before this migration came from elsewhere and is revoked."""

from django.db import migrations


def revoke_all(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    apps.get_model("authtoken", "Token").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_tenant_mfa_for_all_members"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(revoke_all, migrations.RunPython.noop)]

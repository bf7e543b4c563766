import pytest


@pytest.mark.django_db
def test_platform_login_page(host_client):
    response = host_client().get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign In" in response.content or b"Sign in" in response.content

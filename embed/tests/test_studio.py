"""The studio's embed page and the admin: owners only (accounts.permissions, MANAGE_EMBED), the
allow-list checked line by line, nothing written on a bad form."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from embed.models import EmbedSettings
from embed.services import update_embed_settings

pytestmark = pytest.mark.django_db

URL = "/studio/embed/"


def test_an_owner_saves_the_allowed_sites_and_own_cart(client, owner, brand):
    client.force_login(owner)

    page = client.get(URL)
    assert page.status_code == 200
    assert f'data-liveshop-brand="{brand.slug}"' in page.content.decode()

    response = client.post(
        f"{URL}?brand={brand.slug}",
        {"allowed_origins": "https://Shop.Acme.example/\nhttps://*.acme.example", "own_cart": "on"},
    )

    assert response.status_code == 302
    saved = EmbedSettings.objects.get(organization=brand)
    assert saved.origins == ["https://shop.acme.example", "https://*.acme.example"]
    assert saved.own_cart is True


def test_a_bad_line_is_named_and_nothing_is_written(client, owner, brand):
    client.force_login(owner)

    response = client.post(URL, {"allowed_origins": "https://ok.example\nhttps://x.example; script-src *"})

    assert response.status_code == 400
    assert "Line 2" in response.content.decode()
    assert not EmbedSettings.objects.exists()


@pytest.mark.parametrize("role", ["host", "moderator"])
def test_hosts_and_moderators_may_not_change_it(client, brand, role, request):
    client.force_login(request.getfixturevalue(role))

    assert client.get(f"{URL}?brand={brand.slug}").status_code == 403
    evil = {"allowed_origins": "https://evil.example"}
    assert client.post(f"{URL}?brand={brand.slug}", evil).status_code == 403
    assert not EmbedSettings.objects.exists()


def test_another_brands_owner_gets_404(client, brand, other_brand):
    from accounts.models import Membership
    from accounts.tests.factories import member

    client.force_login(member(other_brand, role=Membership.Role.OWNER))

    evil = {"allowed_origins": "https://evil.example"}
    assert client.post(f"{URL}?brand={brand.slug}", evil).status_code == 404
    assert not EmbedSettings.objects.filter(organization=brand).exists()


def test_signed_out_visitors_are_sent_to_log_in(client):
    assert client.get(URL).status_code == 302


def test_the_service_checks_the_role_itself(host, brand):
    with pytest.raises(PermissionDenied):
        update_embed_settings(
            organization=brand, allowed_origins="https://a.example", own_cart=False, by=host
        )


def test_the_service_refuses_a_bad_list_whole(owner, brand):
    update_embed_settings(organization=brand, allowed_origins="https://a.example", own_cart=False, by=owner)

    with pytest.raises(ValidationError):
        update_embed_settings(
            organization=brand, allowed_origins="https://b.example\nnope", own_cart=True, by=owner
        )

    assert EmbedSettings.objects.get(organization=brand).origins == ["https://a.example"]


def test_the_command_adds_a_site_once(brand, capsys):
    call_command("allow_embed_origin", brand.slug, "http://localhost:8000")
    call_command("allow_embed_origin", brand.slug, "http://localhost:8000/")

    assert EmbedSettings.objects.get(organization=brand).origins == ["http://localhost:8000"]
    with pytest.raises(CommandError, match="No brand"):
        call_command("allow_embed_origin", "nope", "http://localhost:8000")
    with pytest.raises(CommandError, match="path"):
        call_command("allow_embed_origin", brand.slug, "http://localhost:8000/shop")


def test_the_admin_shows_owners_their_brands_settings_only(client, owner, brand, other_brand):
    owner.is_staff = True
    owner.save()
    mine = EmbedSettings.objects.create(organization=brand, allowed_origins="https://a.example")
    theirs = EmbedSettings.objects.create(organization=other_brand, allowed_origins="https://b.example")
    client.force_login(owner)

    listing = client.get("/admin/embed/embedsettings/").content.decode()
    assert client.get(f"/admin/embed/embedsettings/{mine.pk}/change/").status_code == 200
    assert client.get(f"/admin/embed/embedsettings/{theirs.pk}/change/").status_code in (302, 404)
    assert "Acme" in listing and "Globex" not in listing

    response = client.post(
        f"/admin/embed/embedsettings/{mine.pk}/change/",
        {"organization": brand.pk, "allowed_origins": "javascript:alert(1)", "own_cart": ""},
    )
    assert response.status_code == 200  # the form again, with the line's error
    mine.refresh_from_db()
    assert mine.origins == ["https://a.example"]

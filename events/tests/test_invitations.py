"""Private shows for invited customers: e-mail invitations, invite links (expiry, use limit,
revocation), the one watchability rule for page, API and replay, and the studio's panel."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, SignInLink
from accounts.permissions import may_watch
from accounts.tests.factories import OrganizationFactory, UserFactory, member
from events import extensions, invitations
from events.exceptions import EventNotPrivate, InviteLinkInvalid
from events.models import Invitation, InviteLink, LiveEvent
from events.tests.factories import LiveEventFactory, LiveNowEventFactory
from liveshop import crypto

pytestmark = pytest.mark.django_db

Status = LiveEvent.Status


def viewer(email="ana@example.com", **fields):
    return UserFactory(email=email, is_staff=False, **fields)


def private_show(**fields):
    event = LiveNowEventFactory(is_private=True, **fields)
    return event, member(event.organization, role=Membership.Role.HOST)


def watch_url(event):
    return reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})


def details_url(event):
    return reverse("viewer:stream-details", kwargs={"pk": event.pk})


def new_link(event, host, *, max_uses=5, days=7):
    return invitations.create_invite_link(
        event=event, by=host, expires_at=timezone.now() + timedelta(days=days), max_uses=max_uses
    )


def fragment_secret(text: str, path: str) -> str:
    match = re.search(rf"https?://[^\s]+{re.escape(path)}#([A-Za-z0-9_\-]+)", text)
    assert match, text
    return match.group(1)


# The rule --------------------------------------------------------------------------------------


def test_an_invited_email_may_watch_a_private_event_and_others_may_not(django_capture_on_commit_callbacks):
    event, host = private_show()
    ana, bob = viewer("ana@example.com"), viewer("bob@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_emails(event=event, emails=["Ana@Example.com "], by=host)

    assert may_watch(ana, event)
    assert not may_watch(bob, event)
    assert not may_watch(viewer("", username="no-email"), event)  # a blank address matches nothing


def test_an_invitation_does_not_open_a_cancelled_event(django_capture_on_commit_callbacks):
    event, host = private_show()
    ana = viewer()
    invitations.invite_emails(event=event, emails=[ana.email], by=host)
    LiveEvent.objects.filter(pk=event.pk).update(status=Status.CANCELLED)
    event.refresh_from_db()

    assert not may_watch(ana, event)


def test_an_invitation_to_one_event_does_not_open_another(django_capture_on_commit_callbacks):
    event, host = private_show()
    other = LiveNowEventFactory(is_private=True, organization=event.organization)
    ana = viewer()
    invitations.invite_emails(event=event, emails=[ana.email], by=host)

    assert not may_watch(ana, other)


def test_an_invited_viewer_gets_the_page_the_api_with_a_signed_url_and_the_replay(client, video):
    event, host = private_show()
    ana = viewer()
    invitations.invite_emails(event=event, emails=[ana.email], by=host)
    client.force_login(ana)

    page = client.get(watch_url(event))
    details = client.get(details_url(event))

    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert details.status_code == 200
    signed = f"{event.playback_url}?token=fake-token.{event.channel_id}.user-{ana.pk}"
    assert details.json()["playbackUrl"] == signed
    invitation = Invitation.objects.get(event=event)
    assert invitation.user == ana and invitation.joined_at is not None  # "who joined"


def test_the_private_event_stays_hidden_from_the_uninvited(client, video):
    event, host = private_show()
    invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    client.force_login(viewer("bob@example.com"))

    assert client.get(watch_url(event)).status_code == 404
    assert client.get(details_url(event)).status_code == 404
    assert video.calls_to("playback_url_for") == []  # no token signed for them


def test_no_playback_token_is_signed_for_someone_who_may_not_watch(rf, video):
    from django.contrib.auth.models import AnonymousUser

    from events.playback import playback_url

    event, _ = private_show()

    assert playback_url(event, AnonymousUser()) == ""
    assert playback_url(event, viewer()) == ""
    assert video.calls_to("playback_url_for") == []


def test_the_replay_follows_the_same_rule(client, video):
    event, host = private_show(status=Status.ENDED)
    invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    replay = reverse("replays:event", kwargs={"brand": event.organization.slug, "slug": event.slug})
    assert not extensions.event_recordings(event)  # no recording: redirects to the page

    client.force_login(viewer("bob@example.com"))
    assert client.get(replay).status_code == 404
    client.force_login(viewer("ana@example.com", username="ana"))
    assert client.get(replay).status_code == 302


def test_removing_an_invitation_takes_access_away_at_once(client, video):
    event, host = private_show()
    ana = viewer()
    [invitation] = invitations.invite_emails(event=event, emails=[ana.email], by=host)
    client.force_login(ana)
    assert client.get(watch_url(event)).status_code == 200

    invitations.remove_invitation(invitation=invitation, by=host)

    assert client.get(watch_url(event)).status_code == 404


@pytest.mark.parametrize("invited_by", ["email", "link"])
def test_a_removed_viewer_cannot_come_back_through_an_invite_link(client, video, invited_by):
    event, host = private_show()
    _, token = new_link(event, host)
    ana = viewer()
    client.force_login(ana)
    if invited_by == "email":
        [invitation] = invitations.invite_emails(event=event, emails=[ana.email], by=host)
    else:
        client.post(reverse("viewer:invite"), {"token": token})
        invitation = Invitation.objects.get(event=event, user=ana)

    invitations.remove_invitation(invitation=invitation, by=host)
    response = client.post(reverse("viewer:invite"), {"token": token})

    assert response.status_code == 400 and "withdrawn your invitation" in response.content.decode()
    assert client.get(watch_url(event)).status_code == 404


def test_inviting_a_removed_address_again_gives_access_back(client, video):
    event, host = private_show()
    ana = viewer()
    [invitation] = invitations.invite_emails(event=event, emails=[ana.email], by=host)
    invitations.remove_invitation(invitation=invitation, by=host)
    client.force_login(ana)
    assert client.get(watch_url(event)).status_code == 404

    invitations.invite_emails(event=event, emails=[ana.email], by=host)

    assert client.get(watch_url(event)).status_code == 200


# E-mail invitations ----------------------------------------------------------------------------


def test_inviting_emails_sends_each_new_address_a_one_time_sign_in_link(django_capture_on_commit_callbacks):
    event, host = private_show()
    invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)

    with django_capture_on_commit_callbacks(execute=True):
        created = invitations.invite_emails(
            event=event, emails=["ana@example.com", "li@example.com", "LI@example.com"], by=host
        )

    assert [i.email for i in created] == ["li@example.com"]  # ana was invited already; li once
    [letter] = mail.outbox
    assert letter.to == ["li@example.com"] and event.title in letter.subject
    secret = fragment_secret(letter.body, reverse("sign-in-link"))
    link = SignInLink.objects.get(email="li@example.com")
    assert link.token_digest == crypto.digest(secret) and secret not in link.token_digest
    assert link.next_url == watch_url(event)


def test_a_brand_member_invited_by_email_gets_no_sign_in_link(django_capture_on_commit_callbacks):
    event, host = private_show()
    staff = member(OrganizationFactory(), email="staff@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_emails(event=event, emails=[staff.email], by=host)

    [letter] = mail.outbox
    assert reverse("sign-in-link") not in letter.body and "password" in letter.body
    assert not SignInLink.objects.exists()


def test_only_private_events_take_invitations_and_only_from_managers():
    public = LiveEventFactory(is_private=False)
    host = member(public.organization)
    with pytest.raises(EventNotPrivate):
        invitations.invite_emails(event=public, emails=["ana@example.com"], by=host)

    event, _ = private_show()
    moderator = member(event.organization, role=Membership.Role.MODERATOR)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        invitations.invite_emails(event=event, emails=["ana@example.com"], by=moderator)
    with pytest.raises(PermissionDenied):
        new_link(event, moderator)


# Invite links ----------------------------------------------------------------------------------


def test_an_invite_link_is_stored_hashed_and_refuses_bad_limits():
    event, host = private_show()

    link, token = new_link(event, host)

    assert InviteLink.objects.get(pk=link.pk).token_digest == crypto.digest(token)
    assert token not in repr(InviteLink.objects.filter(pk=link.pk).values())
    with pytest.raises(InviteLinkInvalid):
        new_link(event, host, max_uses=0)
    with pytest.raises(InviteLinkInvalid):
        new_link(event, host, days=365)


def test_following_an_invite_link_signed_in_invites_you_and_opens_the_event(client, video):
    event, host = private_show()
    _, token = new_link(event, host)
    ana = viewer()
    client.force_login(ana)

    response = client.post(reverse("viewer:invite"), {"token": token})

    assert response.status_code == 302 and response["Location"] == watch_url(event)
    assert client.get(watch_url(event)).status_code == 200
    assert InviteLink.objects.get(event=event).use_count == 1
    client.post(reverse("viewer:invite"), {"token": token})  # again: no second use
    assert InviteLink.objects.get(event=event).use_count == 1


@pytest.mark.parametrize("problem", ["unknown", "expired", "revoked", "used_up"])
def test_an_unusable_invite_link_is_a_clear_400(client, problem):
    event, host = private_show()
    link, token = new_link(event, host, max_uses=1)
    if problem == "unknown":
        token = "x" * 32
    elif problem == "expired":
        InviteLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif problem == "revoked":
        invitations.revoke_invite_link(link=link, by=host)
    else:
        InviteLink.objects.filter(pk=link.pk).update(use_count=1)
    client.force_login(viewer())

    response = client.post(reverse("viewer:invite"), {"token": token})

    assert response.status_code == 400
    words = {"unknown": "not valid", "expired": "expired", "revoked": "withdrawn", "used_up": "as many times"}
    assert words[problem] in response.content.decode()
    assert not Invitation.objects.exists()


def test_an_empty_or_oversized_invite_token_is_a_form_error(client):
    assert client.post(reverse("viewer:invite"), {"token": ""}).status_code == 400
    assert client.post(reverse("viewer:invite"), {"token": "a" * 500}).status_code == 400


def test_revoking_an_invite_link_removes_access_for_those_who_joined_by_it(client, video):
    event, host = private_show()
    link, token = new_link(event, host)
    ana = viewer()
    client.force_login(ana)
    client.post(reverse("viewer:invite"), {"token": token})
    assert client.get(watch_url(event)).status_code == 200

    invitations.revoke_invite_link(link=link, by=host)

    assert client.get(watch_url(event)).status_code == 404
    assert client.get(details_url(event)).status_code == 404


def test_an_anonymous_visitor_signs_in_by_email_and_the_invite_is_used_after(
    client, video, django_capture_on_commit_callbacks
):
    event, host = private_show()
    _, token = new_link(event, host, max_uses=1)

    opened = client.post(reverse("viewer:invite"), {"token": token})
    assert opened.status_code == 200 and event.title in opened.content.decode()
    assert InviteLink.objects.get(event=event).use_count == 0  # nothing used before signing in
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(reverse("viewer:invite-email"), {"email": "New.Viewer@example.com"})
    assert sent.status_code == 200
    [letter] = mail.outbox
    secret = fragment_secret(letter.body, reverse("sign-in-link"))

    other_browser = type(client)()  # the e-mail is opened elsewhere: no session in common
    signed_in = other_browser.post(reverse("sign-in-link"), {"token": secret})
    assert signed_in.status_code == 302
    continued = other_browser.get(signed_in["Location"])

    assert continued.status_code == 302 and continued["Location"] == watch_url(event)
    assert other_browser.get(watch_url(event)).status_code == 200
    invitation = Invitation.objects.get(event=event)
    assert invitation.user.email == "new.viewer@example.com"
    assert InviteLink.objects.get(event=event).use_count == 1


def test_an_invalid_email_for_a_sign_in_link_is_a_form_error(client):
    event, host = private_show()
    _, token = new_link(event, host)
    client.post(reverse("viewer:invite"), {"token": token})

    response = client.post(reverse("viewer:invite-email"), {"email": "not-an-address"})

    assert response.status_code == 400
    assert not mail.outbox


def test_asking_for_a_sign_in_link_without_an_invite_is_refused(client):
    response = client.post(reverse("viewer:invite-email"), {"email": "ana@example.com"})

    assert response.status_code == 400
    assert not mail.outbox


def test_a_fresh_sign_in_link_goes_only_to_invited_addresses(client, django_capture_on_commit_callbacks):
    event, host = private_show()
    invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    mail.outbox.clear()

    for email in ("ana@example.com", "stranger@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("viewer:invite-sign-in"), {"email": email})
        assert response.status_code == 200  # the same answer either way

    assert [m.to for m in mail.outbox] == [["ana@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_concurrent_visitors_never_use_an_invite_link_more_than_its_limit():
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent transactions")
    event, host = private_show()
    link, _ = new_link(event, host, max_uses=3)
    people = [viewer(f"v{i}@example.com", username=f"v{i}") for i in range(12)]
    barrier = threading.Barrier(len(people))
    outcomes = []

    def accept(user):
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            invitations.accept_invite_link(link_id=link.pk, user=user)
            outcomes.append("in")
        except InviteLinkInvalid:
            outcomes.append("refused")
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=accept, args=(user,)) for user in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("in") == 3 and outcomes.count("refused") == 9
    assert InviteLink.objects.get(pk=link.pk).use_count == 3
    assert Invitation.objects.filter(event=event).count() == 3


# The studio panel ------------------------------------------------------------------------------


def test_the_studio_shows_the_invitations_panel_for_private_events_to_managers(client):
    event, host = private_show()
    client.force_login(host)

    page = client.get(event.get_absolute_url()).content.decode()

    assert 'id="invitations"' in page
    public = LiveEventFactory(organization=event.organization)
    assert 'id="invitations"' not in client.get(public.get_absolute_url()).content.decode()
    client.force_login(member(event.organization, role=Membership.Role.MODERATOR))
    assert 'id="invitations"' not in client.get(event.get_absolute_url()).content.decode()


def test_the_studio_invites_emails_and_refuses_bad_ones(client, django_capture_on_commit_callbacks):
    event, host = private_show()
    client.force_login(host)
    url = reverse("events:invite-emails", kwargs={"slug": event.slug})

    bad = client.post(url, {"emails": "ana@example.com, nope"})
    with django_capture_on_commit_callbacks(execute=True):
        good = client.post(url, {"emails": "ana@example.com\nli@example.com"})

    assert bad.status_code == 400 and "nope" in bad.content.decode()
    assert good.status_code == 302
    assert sorted(Invitation.objects.values_list("email", flat=True)) == ["ana@example.com", "li@example.com"]
    assert len(mail.outbox) == 2


def test_the_studio_shows_a_new_invite_link_once_and_can_withdraw_it(client):
    event, host = private_show()
    client.force_login(host)

    made = client.post(
        reverse("events:create-invite-link", kwargs={"slug": event.slug}),
        {"label": "VIPs", "valid_days": 3, "max_uses": 10},
    )

    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    token = fragment_secret(made.content.decode(), reverse("viewer:invite"))
    link = InviteLink.objects.get(event=event)
    assert link.token_digest == crypto.digest(token) and link.max_uses == 10
    assert token not in client.get(event.get_absolute_url()).content.decode()  # shown once
    revoke = reverse("events:revoke-invite-link", kwargs={"slug": event.slug, "pk": link.pk})
    assert client.post(revoke).status_code == 302
    assert InviteLink.objects.get(pk=link.pk).revoked_at is not None


def test_the_studio_refuses_a_bad_invite_link_form(client):
    event, host = private_show()
    client.force_login(host)

    response = client.post(
        reverse("events:create-invite-link", kwargs={"slug": event.slug}),
        {"valid_days": 0, "max_uses": "many"},
    )

    assert response.status_code == 400
    assert not InviteLink.objects.exists()


def test_another_brands_host_cannot_touch_the_invitations(client):
    event, host = private_show()
    [invitation] = invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    client.force_login(member(OrganizationFactory()))

    add_url = reverse("events:invite-emails", kwargs={"slug": event.slug})
    add = client.post(add_url, {"emails": "x@example.com"})
    remove = client.post(
        reverse("events:remove-invitation", kwargs={"slug": event.slug, "pk": invitation.pk})
    )

    assert (add.status_code, remove.status_code) == (404, 404)
    assert Invitation.objects.count() == 1


def test_no_secret_reaches_the_log(client, caplog, django_capture_on_commit_callbacks):
    event, host = private_show()
    client.force_login(host)
    made = client.post(
        reverse("events:create-invite-link", kwargs={"slug": event.slug}), {"valid_days": 3, "max_uses": 10}
    )
    token = fragment_secret(made.content.decode(), reverse("viewer:invite"))
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    sign_in = fragment_secret(mail.outbox[0].body, reverse("sign-in-link"))
    client.logout()
    client.post(reverse("viewer:invite"), {"token": token})
    client.post(reverse("sign-in-link"), {"token": sign_in})
    client.post(reverse("sign-in-link"), {"token": sign_in})  # used: a 400, logged by Django

    logged = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    assert token not in logged and sign_in not in logged


def test_the_studio_lists_who_is_invited_and_who_joined(client, video):
    event, host = private_show()
    link, token = new_link(event, host)
    invitations.invite_emails(event=event, emails=["li@example.com"], by=host)
    ana = viewer("ana@example.com")
    client.force_login(ana)
    client.post(reverse("viewer:invite"), {"token": token})
    client.force_login(host)

    page = client.get(event.get_absolute_url()).content.decode()

    assert "ana@example.com" in page and "li@example.com" in page
    assert f"Link “{link}”" in page and "Not yet" in page


def test_the_admin_shows_invitations_and_links_but_never_a_secret(client):
    event, host = private_show()
    link, token = new_link(event, host)
    invitations.invite_emails(event=event, emails=["ana@example.com"], by=host)
    client.force_login(host)

    page = client.get(reverse("admin:events_liveevent_change", args=[event.pk])).content.decode()

    assert "ana@example.com" in page and str(link) in page
    assert token not in page and link.token_digest not in page


# Cutting off playback that already started ---------------------------------------------------


def on_a_fake_channel(event, video):
    event.channel_id = video.create_channel(event.slug, private=True).id
    event.save(update_fields=["channel_id"])
    return event


def test_removing_an_invitation_ends_the_viewers_private_playback(video, django_capture_on_commit_callbacks):
    event, host = private_show()
    on_a_fake_channel(event, video)
    ana = viewer()
    [invitation] = invitations.invite_emails(event=event, emails=[ana.email], by=host)

    with django_capture_on_commit_callbacks(execute=True):
        invitations.remove_invitation(invitation=invitation, by=host)

    assert video.revoked == [(event.channel_id, f"user-{ana.pk}")]


def test_withdrawing_a_link_ends_the_playback_of_those_who_joined_by_it_only(
    video, django_capture_on_commit_callbacks
):
    event, host = private_show()
    on_a_fake_channel(event, video)
    link, _ = new_link(event, host)
    ana, li = viewer("ana@example.com", username="ana"), viewer("li@example.com", username="li")
    for user in (ana, li):
        invitations.accept_invite_link(link_id=link.pk, user=user)
    invitations.invite_emails(event=event, emails=[li.email], by=host)  # li is also invited by e-mail

    with django_capture_on_commit_callbacks(execute=True):
        invitations.revoke_invite_link(link=link, by=host)

    assert video.revoked == [(event.channel_id, f"user-{ana.pk}")]


def test_backends_that_sign_nothing_have_nothing_to_revoke(settings):
    from liveshop.video import get_video_backend

    event, _ = private_show()
    ana = viewer()
    settings.VIDEO_BACKEND = "local"
    get_video_backend.cache_clear()
    try:
        assert invitations.revoke_playback(event_id=event.pk, user_ids=[ana.pk]) == 0
    finally:
        get_video_backend.cache_clear()


def test_a_failed_revocation_never_fails_the_hosts_request(video, caplog, django_capture_on_commit_callbacks):
    event, host = private_show()  # its channel is unknown to the video service
    ana = viewer()
    [invitation] = invitations.invite_emails(event=event, emails=[ana.email], by=host)

    with django_capture_on_commit_callbacks(execute=True):
        invitations.remove_invitation(invitation=invitation, by=host)

    assert video.revoked == [] and "not revoked" in caplog.text
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None


def test_the_link_pages_take_their_secret_from_the_fragment_with_a_static_script(client):
    for name in ("viewer:invite", "sign-in-link"):
        page = client.get(reverse(name))
        html = page.content.decode()
        assert page.status_code == 200 and "data-token-form" in html
        assert "js/token_link.js" in html and "<script>" not in html  # no inline script (CSP)
    assert client.get(reverse("viewer:invite-sign-in")).status_code == 200

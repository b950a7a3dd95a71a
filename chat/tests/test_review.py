"""Word list "hold for review" (a brand setting) and the studio's moderation page: held
messages reach nobody until approved; rejected ones stay hidden; every step is logged; only the
brand's moderators see the page (another brand's is a 404)."""

import pytest
from django.urls import reverse

from accounts.models import Membership
from accounts.tests.factories import member
from chat import selectors, services
from chat.models import BrandChatPolicy, ChatMessage, ChatRestriction, ModerationAction
from chat.tests.conftest import make_viewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def holding(brand, owner):
    return services.set_blocked_words(
        organization=brand, words="knockoff\nfree money", action=BrandChatPolicy.WordAction.HOLD, by=owner
    )


def test_a_listed_word_holds_the_message_for_review_and_nobody_sees_it(
    event, viewer, host, holding, chat_frames, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        held = services.post_message(event=event, user=viewer, body="Is this a KNOCKOFF?")
        staff = services.post_message(event=event, user=host, body="Not a knockoff!")
    assert held.held and not staff.held  # the brand's own people are never held
    assert [f["id"] for f in chat_frames if f["type"] == "chat_message"] == [staff.pk]
    assert [m["id"] for m in selectors.recent_messages(event.pk)] == [staff.pk]


def test_approving_sends_it_to_everyone_and_rejecting_hides_it_both_logged(
    event, viewer, moderator, holding, chat_frames, django_capture_on_commit_callbacks
):
    first = services.post_message(event=event, user=viewer, body="free money here")
    second = services.post_message(event=event, user=make_viewer("Bo"), body="knockoff!")
    with django_capture_on_commit_callbacks(execute=True):
        services.review_message(message=first, approve=True, by=moderator)
        services.review_message(message=second, approve=False, by=moderator)
        services.review_message(message=first, approve=False, by=moderator)  # reviewed: as it is
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.held, first.hidden_at, first.reviewed_by) == (False, None, moderator)
    assert second.hidden_at is not None and not second.held
    assert [f["id"] for f in chat_frames if f["type"] == "chat_message"] == [first.pk]
    kinds = list(ModerationAction.objects.filter(actor=moderator).values_list("kind", flat=True))
    assert sorted(kinds) == ["approve", "reject"]


def test_refusing_stays_the_default(event, viewer, owner, brand):
    services.set_blocked_words(organization=brand, words="knockoff", by=owner)
    from chat.exceptions import MessageRefused

    with pytest.raises(MessageRefused) as caught:
        services.post_message(event=event, user=viewer, body="knockoff")
    assert caught.value.reason == "blocked_word" and not ChatMessage.objects.exists()


def test_the_moderation_page_approves_sets_the_word_list_and_unbans(
    client, event, viewer, moderator, brand, holding
):
    held = services.post_message(event=event, user=viewer, body="knockoff?")
    services.ban(event=event, user=make_viewer("Troll"), by=moderator)
    client.force_login(moderator)
    url = reverse("chat:moderation", args=[brand.slug])

    page = client.get(url).content.decode()
    assert (
        "knockoff?" in page and "Troll" in page and "@" not in page.split("<main", 1)[-1].split("</main>")[0]
    )

    assert client.post(url, {"step": "approve", "message": held.pk}).status_code == 302
    held.refresh_from_db()
    assert not held.held
    client.post(url, {"step": "words", "words": "scam\nknockoff", "action": "reject"})
    assert selectors.word_policy(brand.pk) == (["scam", "knockoff"], "reject")
    troll = ChatRestriction.objects.get().user
    client.post(url, {"step": "lift", "user": troll.pk})
    assert selectors.active_restriction(brand.pk, troll) is None
    bad = client.post(url, {"step": "words", "words": "x", "action": "shout"})
    assert bad.status_code == 200 and "shout" in bad.content.decode()  # the form's error, nothing saved
    assert selectors.word_policy(brand.pk)[1] == "reject"


def test_only_the_brands_moderators_see_the_page(client, brand, viewer, other_brand):
    url = reverse("chat:moderation", args=[brand.slug])
    assert client.get(url).status_code == 302  # to log in
    client.force_login(viewer)
    assert client.get(url).status_code == 404
    client.force_login(member(other_brand, role=Membership.Role.OWNER))
    assert client.get(url).status_code == 404
    assert client.post(url, {"step": "words", "words": "", "action": "hold"}).status_code == 404


def test_another_brands_held_message_cannot_be_reviewed_from_this_page(
    client, event, viewer, holding, other_brand
):
    held = services.post_message(event=event, user=viewer, body="knockoff")
    other_owner = member(other_brand, role=Membership.Role.OWNER)
    client.force_login(other_owner)
    client.post(reverse("chat:moderation", args=[other_brand.slug]), {"step": "approve", "message": held.pk})
    held.refresh_from_db()
    assert held.held


def test_the_studio_nav_leads_moderators_to_their_brands_page(client, brand, moderator, viewer):
    client.force_login(moderator)
    index = reverse("chat:moderation-index")
    assert client.get(reverse("events:list")).content.decode().count(f'href="{index}"') == 1
    assert client.get(index).url == reverse("chat:moderation", args=[brand.slug])
    client.force_login(viewer)
    assert client.get(index).status_code == 404

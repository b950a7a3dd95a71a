"""Chat in the admin: moderators act through the services; only owners read the moderation log."""

import pytest
from django.urls import reverse

from chat import services
from chat.models import BrandChatPolicy, ChatMessage, ModerationAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(event, viewer):
    return services.post_message(event=event, user=viewer, body="off-topic")


def test_the_moderation_log_is_the_owners_alone(client, event, message, owner, moderator, host):
    services.hide_message(message=message, by=moderator)
    url = reverse("admin:chat_moderationaction_changelist")

    for person, status in ((owner, 200), (moderator, 403), (host, 403)):
        client.force_login(person)
        response = client.get(url)
        assert response.status_code == status
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert moderator.username in page and "Hid a message" in page


def test_a_moderator_hides_messages_from_the_admin_through_the_service(client, event, message, moderator):
    client.force_login(moderator)

    response = client.post(
        reverse("admin:chat_chatmessage_changelist"), {"action": "hide", "_selected_action": [message.pk]}
    )

    assert response.status_code == 302
    assert ChatMessage.objects.get().is_hidden
    assert ModerationAction.objects.get().actor == moderator


def test_another_brands_people_see_none_of_this_brands_chat(client, event, message, other_brand):
    from accounts.models import Membership
    from accounts.tests.factories import member

    client.force_login(member(other_brand, role=Membership.Role.OWNER))

    page = client.get(reverse("admin:chat_chatmessage_changelist")).content.decode()

    assert "off-topic" not in page


def test_the_word_list_is_saved_cleaned_and_logged(client, brand, moderator):
    client.force_login(moderator)

    response = client.post(
        reverse("admin:chat_brandchatpolicy_add"),
        {"organization": brand.pk, "blocked_words": "spam\r\n\r\nfr\u200bee\r\n", "word_action": "hold"},
    )

    assert response.status_code == 302
    assert BrandChatPolicy.objects.get().word_list == ["spam", "free"]
    assert BrandChatPolicy.objects.get().word_action == "hold"
    assert ModerationAction.objects.get().kind == "word_list"

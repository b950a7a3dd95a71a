"""Migration chat 0008: the moderation log's English details read into parameters, worded in
the reader's language; a detail it cannot read stays shown as it was; backwards, nothing is lost."""

import pytest
from django.utils import translation

from chat.models import ModerationAction
from tests.migrations import leaf, migrate

BEFORE = [("chat", "0007_reaction_second_stamp")]


@pytest.mark.django_db(transaction=True)
def test_older_details_become_parameters_worded_for_the_reader_and_survive_going_back():
    old = migrate(BEFORE)
    try:
        brand = old.get_model("accounts", "Organization").objects.create(name="Old", slug="old-chat")
        OldAction = old.get_model("chat", "ModerationAction")
        details = [
            ("timeout", "5 min"),
            ("slow_mode", "30 s"),
            ("slow_mode", "off"),
            ("unban", "2 lifted"),
            ("word_list", "3 words, hold it for review"),
            ("word_list", "1 words, zur prüfung zurückhalten"),  # written in German then: kept as it is
        ]
        made = [OldAction.objects.create(organization=brand, kind=k, detail=d).pk for k, d in details]

        migrate(leaf())

        rows = [ModerationAction.objects.get(pk=pk) for pk in made]
        assert [row.params for row in rows] == [
            {"minutes": 5},
            {"seconds": 30},
            {"seconds": 0},
            {"lifted": 2},
            {"words": 3, "action": "hold"},
            {},
        ]
        with translation.override("de"):
            assert [row.detail_text for row in rows] == [
                "5 min",
                "30 s",
                "aus",
                "2 aufgehoben",
                "3 Wörter, zur Prüfung zurückgehalten",
                "1 words, zur prüfung zurückhalten",
            ]

        back = migrate(BEFORE)
        kept = back.get_model("chat", "ModerationAction").objects.filter(pk__in=made).order_by("pk")
        assert list(kept.values_list("detail", flat=True)) == [d for _, d in details]
    finally:
        migrate(leaf())

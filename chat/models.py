"""Chat beside a live event: its messages, each event's room settings (slow mode), each brand's
word list, the brand's restrictions on people (time-outs, bans) and its moderation log."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from events.models import LiveEvent, StreamSession

BODY_MAX = 500  # characters (code points) after cleaning, as IVS Chat's maximumMessageLength


class ChatRoom(models.Model):
    """An event's chat settings, made on first change (an event without one has the defaults)."""

    organization_field = "event__organization"

    event = models.OneToOneField(LiveEvent, on_delete=models.CASCADE, related_name="chat_room")
    slow_mode_seconds = models.PositiveSmallIntegerField(
        default=0, help_text="One message per this many seconds per viewer (0: off). Staff are exempt."
    )
    # The announcement pinned at the top of the chat (a message of the brand's people or any
    # message a moderator pins), until unpinned or hidden.
    pinned = models.ForeignKey(
        "ChatMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The event's room in the chat service (CHAT_BACKEND=ivs: its ARN), made on first need.
    backend_room_id = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"Chat of {self.event}"


class BrandChatPolicy(models.Model):
    """A brand's rules for all its chats: the words its messages may not contain, and whether a
    message with one is refused or held for a moderator to approve or reject."""

    class WordAction(models.TextChoices):
        REJECT = "reject", _("Refuse the message")
        HOLD = "hold", _("Hold it for review")

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="chat_policy")
    blocked_words = models.TextField(
        blank=True, help_text="One word or phrase a line; a message containing one is refused or held."
    )
    word_action = models.CharField(max_length=10, choices=WordAction.choices, default=WordAction.REJECT)

    class Meta:
        verbose_name_plural = "brand chat policies"

    def __str__(self):
        return f"Chat policy of {self.organization}"

    @property
    def word_list(self) -> list[str]:
        return [line.strip().casefold() for line in self.blocked_words.splitlines() if line.strip()]


class ChatMessage(models.Model):
    """One message, as its author's name and badge were when it was sent; ``offset_ms`` into the
    live stream session (None before going live) places it in the replay. Hiding keeps the row."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="chat_messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    author_name = models.CharField(max_length=150)
    author_role = models.CharField(max_length=20, blank=True)  # the brand role shown as a badge
    body = models.CharField(max_length=BODY_MAX)
    session = models.ForeignKey(
        StreamSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_messages"
    )
    offset_ms = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    # A message with a word of the brand's list, held (BrandChatPolicy.WordAction.HOLD): shown to
    # nobody until a moderator approves it (then sent) or rejects it (then hidden).
    held = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The chat service's id of the message (CHAT_BACKEND=ivs: the review input's MessageId), so a
    # hide reaches the service's clients too (DeleteMessage); empty for messages from our socket.
    backend_message_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["event", "-id"], name="chat_message_event_newest"),
            # The replay's windows (chat.replay): stamped messages by their offset in a session,
            # the others by when they were written.
            models.Index(fields=["session", "offset_ms"], name="chat_message_session_offset"),
            models.Index(fields=["event", "created_at"], name="chat_message_event_created"),
        ]
        constraints = [
            # The column holds at most BODY_MAX characters; an empty one is never a message.
            models.CheckConstraint(condition=~models.Q(body=""), name="chat_body_not_empty"),
        ]

    def __str__(self):
        return f"{self.author_name}: {self.body[:40]}"

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class ChatRestriction(models.Model):
    """A person kept out of a brand's chats: timed out until ``until``, or banned (no end) until
    lifted. Checked at every post, in the database: every tab and process sees it at once."""

    class Kind(models.TextChoices):
        TIMEOUT = "timeout", _("Timed out")
        BAN = "ban", _("Banned")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="chat_restrictions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_restrictions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "user"], name="chat_restriction_person")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="ban", until__isnull=True)
                | models.Q(kind="timeout", until__isnull=False),
                name="chat_restriction_ban_open_timeout_ends",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.user} in {self.organization}"


class ModerationAction(models.Model):
    """The moderation log: who did what, to whom, when. Rows are never changed or deleted."""

    class Kind(models.TextChoices):
        HIDE = "hide", _("Hid a message")
        TIMEOUT = "timeout", pgettext_lazy("moderation log", "Timed out")
        BAN = "ban", pgettext_lazy("moderation log", "Banned")
        UNBAN = "unban", _("Lifted a ban or time-out")
        SLOW_MODE = "slow_mode", _("Set slow mode")
        WORD_LIST = "word_list", _("Changed the word list")
        APPROVE = "approve", _("Approved a held message")
        REJECT = "reject", _("Rejected a held message")
        PIN = "pin", _("Pinned a message")
        UNPIN = "unpin", _("Unpinned a message")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="moderation_actions"
    )
    event = models.ForeignKey(
        LiveEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="moderation_actions"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        ChatMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="moderation_actions"
    )
    detail = models.CharField(max_length=200, blank=True)  # English: what params say (older rows: only this)
    # What the step set, worded when shown in the reader's language (``detail_text``): a time-out's
    # {"minutes"}, slow mode's {"seconds"}, a lift's {"lifted"}, a word list's {"words", "action"}.
    params = models.JSONField(default=dict, blank=True, db_default={})
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="moderation_log_newest")]

    def __str__(self):
        return f"{self.actor}: {self.get_kind_display()} {self.detail_text}".strip()

    @property
    def detail_text(self) -> str:
        """The step's detail in the active language ("5 min", "3 Wörter, zur Prüfung zurückhalten")."""
        return moderation_detail(self.kind, self.params or {}) or self.detail


def moderation_detail(kind: str, params: dict) -> str:
    """A moderation step's detail, worded from its ``params`` in the active language ("" for none)."""
    Kind = ModerationAction.Kind
    if kind == Kind.TIMEOUT and "minutes" in params:
        return gettext("%(minutes)s min") % {"minutes": params["minutes"]}
    if kind == Kind.SLOW_MODE and "seconds" in params:
        seconds = params["seconds"]
        return gettext("%(seconds)s s") % {"seconds": seconds} if seconds else gettext("off")
    if kind == Kind.UNBAN and "lifted" in params:
        return ngettext("%(count)s lifted", "%(count)s lifted", params["lifted"]) % {
            "count": params["lifted"]
        }
    if kind == Kind.WORD_LIST and "words" in params:
        action = {"reject": gettext("refused"), "hold": gettext("held for review")}.get(
            params.get("action"), ""
        )
        words = ngettext("%(count)s word", "%(count)s words", params["words"]) % {"count": params["words"]}
        return f"{words}, {action}" if action else words
    return ""


class Poll(models.Model):
    """A question the host asks the show's viewers, open for ``duration_seconds`` from
    ``opened_at``. Like a highlight it has its moment in the stream (``session``, ``offset_ms``)
    and an in-band cue (``cue_state``), so viewers see it in step with the picture and the replay
    shows it at the same moment. ``options`` is the list of answers (2-4 strings)."""

    class CueState(models.TextChoices):
        NOT_LIVE = "not_live", "Not live (socket only)"
        SENT = "sent", "Sent"
        THROTTLED = "throttled", "Throttled (socket only)"
        FAILED = "failed", "Failed (socket only)"

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="polls")
    question = models.CharField(max_length=200)
    options = models.JSONField()
    duration_seconds = models.PositiveSmallIntegerField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)  # when its final results went out
    session = models.ForeignKey(
        StreamSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="polls"
    )
    offset_ms = models.PositiveBigIntegerField(null=True, blank=True)
    cue_state = models.CharField(max_length=20, choices=CueState.choices, default=CueState.NOT_LIVE)
    cue_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["event", "-opened_at"], name="chat_poll_event_newest")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(question=""), name="chat_poll_question_not_empty"),
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opened_at")), name="chat_poll_closes_after_open"
            ),
        ]

    def __str__(self):
        return self.question

    @property
    def moment(self):
        """When it opened in the stream: its session's start plus its offset, else opened_at."""
        if self.session_id is not None and self.offset_ms is not None and self.session.started_at:
            return self.session.started_at + timedelta(milliseconds=self.offset_ms)
        return self.opened_at


class PollVote(models.Model):
    """One viewer's answer to a poll: one per person and poll, enforced by the database."""

    organization_field = "poll__event__organization"

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="poll_votes")
    option = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "voter"], name="chat_poll_one_vote_per_person"),
            models.CheckConstraint(condition=models.Q(option__lte=3), name="chat_poll_vote_option_in_range"),
        ]

    def __str__(self):
        return f"{self.voter} -> {self.option} in {self.poll}"


class ReactionSecond(models.Model):
    """The reactions viewers tapped in one second of a show (every process's taps added up), kept
    for the replay: ``at`` is the second (wall clock, truncated); ``session`` and ``offset_ms``
    where that second was in the live stream (the media clock, as a chat message's; None before
    going live), which places it in the replay."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="reaction_seconds")
    at = models.DateTimeField()
    heart = models.PositiveIntegerField(default=0)
    fire = models.PositiveIntegerField(default=0)
    laugh = models.PositiveIntegerField(default=0)
    clap = models.PositiveIntegerField(default=0)
    wow = models.PositiveIntegerField(default=0)
    session = models.ForeignKey(
        StreamSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="reaction_seconds"
    )
    offset_ms = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["session", "offset_ms"], name="chat_reaction_session_offset")]
        constraints = [models.UniqueConstraint(fields=["event", "at"], name="chat_reaction_second_once")]

    def __str__(self):
        return f"Reactions of {self.event} at {self.at:%H:%M:%S}"

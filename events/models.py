from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Product

SLUG_TAKEN = "Another event of this brand already uses this address. Choose another, or leave it blank."


def studio_url(name: str, event: "LiveEvent", **kwargs) -> str:
    """A studio URL of ``event`` (``events:<name>``), with its brand in ``?brand=``."""
    path = reverse(name, kwargs={"slug": event.slug, **kwargs})
    return f"{path}?{urlencode({'brand': event.organization.slug})}"


class LiveEvent(models.Model):
    """A brand's live show on one video channel. The stream key is a secret: for IVS it stays
    in IVS (read when a host asks); for the local media server it is stored here encrypted."""

    class Status(models.TextChoices):
        NEEDS_CHANNEL = "needs_channel", _("Needs channel")
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live")
        ENDED = "ended", _("Ended")
        CANCELLED = "cancelled", _("Cancelled")

    # Over: no more edits, channel, cards or hosting. See is_closed; filter with status__in.
    CLOSED_STATUSES = (Status.ENDED, Status.CANCELLED)

    organization_field = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    title = models.CharField(max_length=200)
    # Unique within the brand: viewer URLs carry the brand (/e/<brand>/<event>/), and studio URLs
    # name it in ?brand= (get_absolute_url; events.views.studio._event_or_404 resolves both).
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    scheduled_start = models.DateTimeField()
    thumbnail = models.ImageField(upload_to="events/", blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    is_private = models.BooleanField("private", default=False)
    is_recorded = models.BooleanField("record", default=True)

    backend = models.CharField(max_length=20, blank=True)
    channel_id = models.CharField(max_length=200, blank=True, db_index=True)
    ingest_url = models.CharField(max_length=300, blank=True)
    playback_url = models.URLField(max_length=500, blank=True)
    stream_key_encrypted = models.TextField(blank=True, editable=False)
    stream_key_digest = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    provisioning_error = models.TextField(blank=True)
    # Time of the newest stream start/end applied: an older event never overwrites ``status``.
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when a host ends the show: its stream may not come back (a dropped stream may).
    ended_by_host_at = models.DateTimeField(null=True, blank=True, editable=False)

    products = models.ManyToManyField(Product, through="EventProduct", related_name="events", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-scheduled_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"],
                name="event_slug_unique_per_brand",
                violation_error_message=SLUG_TAKEN,
            )
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        """The event's studio page; ``?brand=`` keeps it unambiguous for a member of several brands
        whose events share the slug."""
        return studio_url("events:detail", self)

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    @property
    def is_closed(self) -> bool:
        """Ended or cancelled: the event no longer changes (no edits, channel or product cards).
        An event whose stream dropped is closed too, yet may go live again (may_go_live)."""
        return self.status in self.CLOSED_STATUSES

    @property
    def may_go_live(self) -> bool:
        """Whether a stream may (re)start: never for a cancelled event or one its host ended. An
        event that ended because its stream dropped may: the encoder is reconnecting (IVS
        accepts it too)."""
        return self.status != self.Status.CANCELLED and self.ended_by_host_at is None

    @property
    def is_watchable(self) -> bool:
        """Has a viewer page, socket and API: not cancelled, not still waiting for a channel."""
        return self.status in WATCHABLE_STATUSES

    @property
    def has_channel(self) -> bool:
        return bool(self.channel_id)


WATCHABLE_STATUSES = (LiveEvent.Status.SCHEDULED, LiveEvent.Status.LIVE, LiveEvent.Status.ENDED)


class EventProduct(models.Model):
    """One product in an event's lineup, in the host's order."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="lineup")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "product"], name="product_once_per_lineup"),
        ]

    def __str__(self):
        return f"{self.position}. {self.product}"


class StreamSession(models.Model):
    """One go-live of an event: a stream id from the video service, from start to end."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="sessions")
    stream_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    peak_viewers = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "stream_id"], name="stream_id_once_per_event"),
        ]

    def __str__(self):
        return f"{self.event} · {self.stream_id}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class Highlight(models.Model):
    """A moment in a show: the host featured a product (or cleared the card). ``offset_ms`` is
    its position in the stream session, so replays show the card at the same moment."""

    class CueState(models.TextChoices):
        NOT_LIVE = "not_live", "Not live (card only)"
        PENDING = "pending", "Sending"
        SENT = "sent", "Sent"
        WAITING = "waiting", "Waiting (throttled)"
        SUPERSEDED = "superseded", "Superseded"
        FAILED = "failed", "Failed"

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="highlights")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    session = models.ForeignKey(
        StreamSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="highlights"
    )
    featured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    offset_ms = models.PositiveBigIntegerField(null=True, blank=True)
    cue_state = models.CharField(max_length=20, choices=CueState.choices, default=CueState.NOT_LIVE)
    cue_error = models.CharField(max_length=300, blank=True)
    cue_sent_at = models.DateTimeField(null=True, blank=True)
    cue_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["event", "-created_at"])]

    def __str__(self):
        return f"{self.event}: {self.product or 'cleared'}"

    @property
    def is_clear(self) -> bool:
        return self.product_id is None

    @property
    def moment(self):
        """When the highlight happened in the stream: its session's start plus its offset (exact
        for a pre-recorded show's cues), else when it was written. Needs ``session`` loaded."""
        if self.session_id is not None and self.offset_ms is not None and self.session.started_at:
            return self.session.started_at + timedelta(milliseconds=self.offset_ms)
        return self.created_at


class InviteLink(models.Model):
    """A shareable link to a private event: anyone who follows it and signs in is invited, until
    it expires, is revoked or has been used ``max_uses`` times. Only a keyed hash of its secret is
    stored (the studio shows the link once, when it is made). Revoking it also takes access away
    from everyone who joined through it."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="invite_links")
    label = models.CharField(max_length=100, blank=True)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField()
    use_count = models.PositiveIntegerField(default=0, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(use_count__lte=models.F("max_uses")), name="invite_link_within_use_limit"
            ),
            models.CheckConstraint(condition=models.Q(max_uses__gte=1), name="invite_link_usable"),
        ]

    def __str__(self):
        return self.label or f"Invite link {self.pk}"

    @property
    def uses_left(self) -> int:
        return max(self.max_uses - self.use_count, 0)


class Invitation(models.Model):
    """One invited viewer of a private event: an e-mail address the brand invited (``user`` is set
    once that person signs in and watches), or a user who joined through an invite link. It grants
    access unless removed (``revoked_at``) or its invite link was withdrawn."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)  # lower-cased; blank for those who came by a link
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    link = models.ForeignKey(
        InviteLink, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    # Set when the brand removes the person: kept (not deleted) so they cannot come back through
    # an invite link they still hold; inviting the address again clears it.
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "email"], condition=~models.Q(email=""), name="email_invited_once_per_event"
            ),
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=models.Q(user__isnull=False),
                name="user_invited_once_per_event",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="") | models.Q(user__isnull=False), name="invitation_names_someone"
            ),
        ]

    def __str__(self):
        return self.email or str(self.user)


class ShowReminder(models.Model):
    """A signed-in viewer asked to be e-mailed when an upcoming show goes live (events.reminders).
    ``sent_at`` is set when the e-mail is claimed for sending, so each viewer gets one per show
    however often its stream starts."""

    organization_field = "event__organization"

    event = models.ForeignKey(LiveEvent, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="show_reminders"
    )
    # The language of the page the viewer asked on (LANGUAGES): the e-mail is written in it.
    language = models.CharField(max_length=16, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="reminder_once_per_viewer_and_show"),
        ]
        indexes = [models.Index(fields=["event", "sent_at"], name="reminder_unsent_by_show")]

    def __str__(self):
        return f"{self.user} · {self.event}"

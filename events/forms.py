"""The seller dashboard's event form: details plus an ordered lineup of the brand's products."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Product
from events import selectors
from events.models import SLUG_TAKEN, LiveEvent

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
EVENT_FIELDS = ("title", "slug", "description", "scheduled_start", "is_private", "is_recorded")
LAST = 10**9  # position of a ticked product whose position box was left empty


@dataclass(frozen=True)
class LineupRow:
    """One product of the lineup picker, as the template draws it."""

    product: Product
    checked: bool
    position: forms.BoundField


class ZonedDateTimeField(forms.DateTimeField):
    """A date and time typed and shown in ``zone`` (the brand's), whatever the request's time
    zone: a naive "2026-12-24T18:00" is 18:00 there, stored as the UTC moment it is; a stored
    time is shown back in the same zone. A time the zone skips or repeats (a DST change) is
    refused with Django's own message."""

    zone = None  # set per form (EventForm.__init__)

    def to_python(self, value):
        with timezone.override(self.zone or timezone.get_current_timezone()):
            return super().to_python(value)

    def prepare_value(self, value):
        with timezone.override(self.zone or timezone.get_current_timezone()):
            return super().prepare_value(value)


class EventForm(forms.Form):
    """Create or edit an event of ``organization``. The lineup offers only that brand's active
    products (and those already in ``event``'s lineup); ``cleaned_data["lineup"]`` holds the ticked
    ones ordered by their position boxes (empty boxes last, in catalogue order)."""

    title = forms.CharField(max_length=200, label=_("Title"))
    slug = forms.SlugField(
        max_length=80,
        required=False,
        label=_("Address (slug)"),
        help_text=_("Letters, numbers and hyphens. Leave blank to make one from the title."),
    )
    description = forms.CharField(
        required=False, label=_("Description"), widget=forms.Textarea(attrs={"rows": 4})
    )
    scheduled_start = ZonedDateTimeField(
        label=_("Starts at"),
        input_formats=[DATETIME_LOCAL_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL_FORMAT),
        error_messages={
            "required": _("Enter the start date and time."),
            "invalid": _("Enter a valid date and time."),
        },
    )
    is_private = forms.BooleanField(
        required=False, label=_("Private"), help_text=_("Only viewers with a signed link can watch.")
    )
    is_recorded = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Record"),
        help_text=_("Keep a shoppable replay after the show."),
    )
    products = forms.ModelMultipleChoiceField(
        queryset=Product.objects.none(),
        required=False,
        label=_("Lineup"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Product %(value)s is not one of this brand's active products.",
            "invalid_pk_value": "“%(pk)s” is not a valid product id.",
        },
    )

    def __init__(self, *args, organization: Organization, event: LiveEvent | None = None, **kwargs):
        self.organization = organization
        self.event = event
        if event is not None:
            kwargs.setdefault("initial", _initial_for(event))
        super().__init__(*args, **kwargs)
        # The brand's time zone (a brand setting), not the server's or the browser's.
        self.fields["scheduled_start"].zone = organization.zone
        self.fields["scheduled_start"].help_text = _("Time zone: %(zone)s (the brand's).") % {
            "zone": organization.time_zone
        }
        self.fields["products"].queryset = selectors.lineup_choices(organization, event)
        self._choices = list(self.fields["products"].queryset)
        for product in self._choices:
            self.fields[_position_name(product)] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=999,
                label=_("Position of %(product)s") % {"product": product.name},
                widget=forms.NumberInput(attrs={"class": "position", "inputmode": "numeric"}),
            )
        if event is not None and event.has_channel:
            for name in ("is_private", "is_recorded"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed once the video channel exists.")

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if not slug and self.event is not None:
            return self.event.slug
        # Only this brand's events count: another brand's slugs are theirs, and this form must not
        # reveal which ones exist.
        taken = LiveEvent.objects.filter(organization=self.organization, slug=slug)
        if self.event is not None:
            taken = taken.exclude(pk=self.event.pk)
        if slug and taken.exists():
            raise ValidationError(SLUG_TAKEN, code="unique")
        return slug

    def clean(self):
        cleaned = super().clean()
        ticked = cleaned.get("products") or []
        order = {product.pk: i for i, product in enumerate(self._choices)}
        cleaned["lineup"] = sorted(
            ticked, key=lambda p: (cleaned.get(_position_name(p)) or LAST, order.get(p.pk, LAST))
        )
        return cleaned

    def event_fields(self) -> dict:
        """The cleaned values the services take as keyword arguments (lineup aside)."""
        return {name: self.cleaned_data[name] for name in EVENT_FIELDS}

    def lineup_rows(self) -> list[LineupRow]:
        """The picker's rows: ticked products first, in their positions, then the rest by name."""
        ticked = {str(value) for value in (self["products"].value() or [])}
        rows = [
            LineupRow(product, str(product.pk) in ticked, self[_position_name(product)])
            for product in self._choices
        ]
        return sorted(rows, key=lambda row: (not row.checked, _as_int(row.position.value())))

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the form: on the field it names when the form has
        one, otherwise above the form."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


def _position_name(product: Product) -> str:
    return f"position_{product.pk}"


def _as_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return LAST


def _initial_for(event: LiveEvent) -> dict:
    initial = {name: getattr(event, name) for name in EVENT_FIELDS}
    lineup = list(selectors.lineup_of(event))
    initial["products"] = [row.product_id for row in lineup]
    initial.update({f"position_{row.product_id}": i for i, row in enumerate(lineup, 1)})
    return initial


# Invitations to private events ------------------------------------------------------------------

EMAIL_SEPARATORS = (",", ";", "\n", "\r", "\t", " ")


class InviteEmailsForm(forms.Form):
    """Addresses to invite: one per line, or separated by commas, semicolons or spaces."""

    emails = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)

    def clean_emails(self) -> list[str]:
        from events.invitations import MAX_EMAILS_PER_REQUEST

        text = self.cleaned_data["emails"]
        for separator in EMAIL_SEPARATORS:
            text = text.replace(separator, "\n")
        emails = [line.strip() for line in text.split("\n") if line.strip()]
        if not emails:
            raise ValidationError(_("Enter at least one e-mail address."))
        if len(emails) > MAX_EMAILS_PER_REQUEST:
            raise ValidationError(
                _("At most %(count)s addresses at a time.") % {"count": MAX_EMAILS_PER_REQUEST}
            )
        field = forms.EmailField()
        bad = []
        for email in emails:
            try:
                field.clean(email)
            except ValidationError:
                bad.append(email)
        if bad:
            shown = ", ".join(f"“{e[:80]}”" for e in bad[:5])
            more = " …" if len(bad) > 5 else ""
            raise ValidationError(_("Not e-mail addresses: %(addresses)s") % {"addresses": shown + more})
        return emails


class InviteLinkForm(forms.Form):
    """A shareable invite link: how long it works and how many people may use it."""

    label = forms.CharField(
        max_length=100, required=False, label=_("Label"), help_text=_("For you, e.g. “Newsletter VIPs”.")
    )
    valid_days = forms.IntegerField(min_value=1, max_value=90, initial=7, label=_("Works for (days)"))
    max_uses = forms.IntegerField(min_value=1, max_value=10_000, initial=50, label=_("Number of uses"))

    def expires_at(self):
        return timezone.now() + timedelta(days=self.cleaned_data["valid_days"])


class InviteTokenForm(forms.Form):
    """An invite link's secret (moved here from the URL's fragment by the page)."""

    token = forms.CharField(
        max_length=100, error_messages={"required": _("Open the invite link you were sent (all of it).")}
    )


class InviteEmailForm(forms.Form):
    email = forms.EmailField(max_length=254, label=_("Your e-mail address"))

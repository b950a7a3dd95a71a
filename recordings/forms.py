"""Studio forms for uploaded videos: the upload (a form's file, or the start of a resumable
upload sent in parts), the poster, and a cue list sent by the timeline editor."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from events.srt_cues import OPEN_END_MS
from recordings import webvtt
from recordings.exceptions import InvalidUpload
from recordings.services import uploads


class VideoReplaceForm(forms.Form):
    """A video file (type and size checked): a new video's, or a new source for a video (its
    title, page and cues stay)."""

    file = forms.FileField(
        label=_("Video file"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(sorted(uploads.ALLOWED_EXTENSIONS))}),
        error_messages={"required": _("Choose a video file to upload.")},
    )

    def __init__(self, *args, too_large: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if too_large is not None:  # the upload handler dropped the file as it grew past the limit
            self.fields["file"].error_messages["required"] = gettext(
                "This file is larger than %(limit)s, the most allowed."
            ) % {"limit": uploads.human_size(too_large)}

    @classmethod
    def refused(cls, message: str) -> VideoReplaceForm:
        """A form showing only ``message``, for a request whose body was never read."""
        form = cls()
        form.cleaned_data, form._errors = {}, ErrorDict()
        form.add_error(None, message)
        return form

    def clean_file(self):
        file = self.cleaned_data["file"]
        try:
            uploads.check_file_meta(name=file.name, size=file.size, content_type=file.content_type)
        except InvalidUpload as exc:
            raise ValidationError(str(exc)) from None
        return file


class VideoUploadForm(VideoReplaceForm):
    title = forms.CharField(max_length=200, label=_("Title"), help_text=_("Shown on the video's page."))
    field_order = ["title", "file"]


class PosterForm(forms.Form):
    """The video's poster: the frame at a moment of it (seconds ``12.5`` or ``m:ss.s``), or a
    picture the brand uploads (checked by recordings.services.posters)."""

    at = forms.CharField(max_length=20, label=_("Frame at"), required=False)
    image = forms.FileField(
        label=_("Or upload a picture"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def clean_at(self) -> int | None:
        text = self.cleaned_data["at"].strip()
        if not text:
            return None
        try:
            seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(text.split(":"))))
        except ValueError:
            raise ValidationError(_("Write seconds (12.5) or minutes and seconds (1:02.5).")) from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValidationError(_("Pick a moment within the video."))
        return round(seconds * 1000)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("at") is None and not data.get("image"):
            raise ValidationError(_("Say which moment, or choose a picture."))
        if data.get("at") is not None and data.get("image"):
            raise ValidationError(_("Either a moment or a picture, not both."))
        return data


class ResumableStartForm(forms.Form):
    """The start of a resumable upload: what the page is about to send (checked before a byte)."""

    title = forms.CharField(max_length=200, error_messages={"required": _("Give the video a title.")})
    filename = forms.CharField(max_length=200)
    size = forms.IntegerField(min_value=0)
    content_type = forms.CharField(max_length=100, required=False)

    def clean(self):
        data = super().clean()
        if {"filename", "size"} <= data.keys():
            try:
                uploads.check_file_meta(
                    name=data["filename"], size=data["size"], content_type=data.get("content_type", "")
                )
            except InvalidUpload as exc:
                self.add_error(None, str(exc))
        return data


@dataclass(frozen=True)
class CueRow:
    product: Product
    start_ms: int
    end_ms: int | None


# The editor's per-field time errors, each written whole for translators (a cue's start or end).
_TIME_ERRORS = {
    "start": {
        "required": _("The start is required."),
        "number": _("The start must be a number of milliseconds."),
        "negative": _("The start cannot be before the start of the video."),
        "too_late": _("The start is past the end of any video (at most %(max)s ms)."),
    },
    "end": {
        "required": _("The end is required."),
        "number": _("The end must be a number of milliseconds."),
        "negative": _("The end cannot be before the start of the video."),
        "too_late": _("The end is past the end of any video (at most %(max)s ms)."),
    },
}


def _ms(value, field: str, *, optional: bool = False) -> int | None:
    errors = _TIME_ERRORS[field]
    if value is None or value == "":
        if optional:
            return None
        raise ValidationError(errors["required"])
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(errors["number"])
    if value < 0:
        raise ValidationError(errors["negative"])
    if value > OPEN_END_MS:  # 99:59:59.999, the longest time SRT (and so export) can write
        raise ValidationError(errors["too_late"], params={"max": OPEN_END_MS})
    return round(value)


def clean_cue_rows(rows, *, products: dict[int, Product]) -> tuple[list[CueRow], dict[int, list[str]]]:
    """The editor's cue list (``[{"productId", "startMs", "endMs"}]``) checked row by row (types,
    the brand's products; replace_cues checks overlaps and the duration): the cues, and the
    errors by row index (empty when all are good)."""
    if not isinstance(rows, list):
        return [], {-1: [gettext("Expected a list of cues.")]}
    cues, errors = [], {}
    for index, row in enumerate(rows):
        try:
            cues.append(_clean_row(row, products=products))
        except ValidationError as exc:
            errors[index] = exc.messages
    return cues, errors


def _clean_row(row, *, products: dict[int, Product]) -> CueRow:
    if not isinstance(row, dict):
        raise ValidationError(_("Not a cue."))
    product = products.get(row.get("productId")) if isinstance(row.get("productId"), int) else None
    if product is None:
        raise ValidationError(_("Choose one of the brand's products."))
    start = _ms(row.get("startMs"), "start")
    end = _ms(row.get("endMs"), "end", optional=True)
    if end is not None and end <= start:
        raise ValidationError(_("The end must come after the start."))
    return CueRow(product=product, start_ms=start, end_ms=end)


LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


class CaptionsForm(forms.Form):
    """A WebVTT caption file for one language (recordings.webvtt checks it whole: every problem
    with its line, nothing kept from a bad file)."""

    language = forms.CharField(
        max_length=35,
        initial="en",
        label=_("Language"),
        help_text=_("A language tag: en, de, es, pt-BR… A new file for a language replaces its old one."),
    )
    label = forms.CharField(
        max_length=60,
        required=False,
        label=_("Label"),
        help_text=_("Shown in the player; the language's name if empty."),
    )
    file = forms.FileField(
        label=_("WebVTT file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".vtt,text/vtt"}),
        error_messages={"required": _("Choose a .vtt caption file.")},
    )

    def clean_language(self) -> str:
        tag = self.cleaned_data["language"].strip()
        if not LANGUAGE_TAG.match(tag):
            raise ValidationError(_("Write a language tag such as en, de or pt-BR."))
        return tag

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > webvtt.MAX_BYTES:
            raise ValidationError(
                _("The file is larger than %(size)s KB, the most allowed.")
                % {"size": webvtt.MAX_BYTES // 1024}
            )
        try:
            self.cleaned_data["vtt"] = webvtt.parse_webvtt(file.read())
        except webvtt.InvalidWebVtt as exc:
            raise ValidationError([str(problem) for problem in exc.problems]) from None
        file.seek(0)
        return file

    def clean(self):
        data = super().clean()
        if data.get("language") and not data.get("label"):
            data["label"] = language_name(data["language"])
        return data


def language_name(tag: str) -> str:
    """The language's own name when Django knows it (``de`` -> Deutsch), else the tag."""
    try:
        return translation.get_language_info(tag.lower())["name_local"]
    except KeyError:
        try:
            return translation.get_language_info(tag.split("-")[0].lower())["name_local"]
        except KeyError:
            return tag

"""Reading a recording in IVS's layout: the metadata, the playlists (checked: every segment
there, or for a referenced replay each rendition's last one), thumbnails and the cue timeline."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from liveshop import objectstore
from liveshop.objectstore import ObjectStore, StoredObject
from recordings import exceptions
from recordings.playlists import MediaPlaylist, PlaylistError, Timeline, parse_master, parse_media
from recordings.services.ingest.sources import storage_errors, translated_error
from recordings.services.manifest import (
    ENDED,
    EVENTS_FOLDER,
    FAILED,
    STARTED,
    RecordingManifest,
    RecordingPrefix,
    channel_id_of,
    parse_manifest,
)

THUMBNAIL = re.compile(r"thumb(\d+)\.jpe?g$")


@dataclass
class Media:
    """The recording's objects (by path relative to the prefix) and what its playlists say."""

    objects: dict[str, StoredObject]
    renditions: list[dict]
    thumbnails: list[str]
    timeline: Timeline
    duration_ms: int


def read_manifest(source: ObjectStore, *, location: RecordingPrefix) -> RecordingManifest:
    """recording-ended.json, else recording-failed.json, parsed and checked against the prefix."""
    for name in (ENDED, FAILED):
        try:
            data = source.read(location.key(name))
        except objectstore.ObjectNotFound as exc:
            if exc.code == "NoSuchBucket":
                raise exceptions.RecordingNotFound(_missing_root(source)) from None
            continue
        except objectstore.StorageError as exc:
            raise translated_error(exc) from None
        manifest = parse_manifest(data, where=source.url(location.key(name)))
        if channel_id_of(manifest.channel_arn) not in (location.channel_id, None):
            raise exceptions.MalformedRecording(
                f"{source.url(location.key(name))} belongs to {manifest.channel_arn}, "
                f"not to channel {location.channel_id} of its prefix"
            )
        return manifest
    where = source.url(location.key(""))
    if _exists(source, location.key(STARTED)):
        raise exceptions.RecordingNotEnded(f"{where} has started but not ended (no {ENDED} yet)")
    raise exceptions.RecordingNotFound(f"No recording under {where} (no {ENDED})")


def _missing_root(source: ObjectStore) -> str:
    if isinstance(source, objectstore.S3Store):
        return f"The bucket {source.bucket} does not exist"
    return f"The folder {source.url('')} does not exist"


def _exists(source: ObjectStore, key: str) -> bool:
    try:
        return any(o.key == key for o in source.list(key))
    except objectstore.StorageError as exc:
        raise translated_error(exc) from None


def read_media(source: ObjectStore, *, location: RecordingPrefix, manifest: RecordingManifest) -> Media:
    """List the prefix (every object but events/) and read the playlists the metadata names:
    each must exist and parse, and each segment a playlist lists must be there."""
    with storage_errors():
        listed = source.list(location.key(""))
        objects = {o.key[len(location.prefix) + 1 :]: o for o in listed}
    objects = {path: o for path, o in objects.items() if not path.startswith(EVENTS_FOLDER)}
    variants = {
        posixpath.normpath(posixpath.join(manifest.hls_path, v.uri)): v
        for v in _read_playlist(source, location, objects, manifest.master_key, parse_master)
    }
    renditions, first = [], None
    for rendition in manifest.renditions:
        key = manifest.rendition_key(rendition)
        playlist = _read_playlist(source, location, objects, key, parse_media)
        folder = posixpath.dirname(key)
        missing = [s.uri for s in playlist.segments if posixpath.join(folder, s.uri) not in objects]
        if missing:
            raise exceptions.RecordingIncomplete(
                f"{len(missing)} segment(s) of {source.url(location.key(key))} are missing, e.g. {missing[0]}"
            )
        first = first or playlist
        renditions.append(_rendition(rendition, variants.get(key), playlist, key))
    return _media(objects, renditions, first, manifest)


def read_referenced_media(
    source: ObjectStore, *, location: RecordingPrefix, manifest: RecordingManifest
) -> Media:
    """What a referenced (zero-copy) replay needs without listing its segments: the playlists
    the metadata names, read and parsed, each rendition's last segment present, the thumbnails'
    folder listed (one page for hours of IVS's thumbnails). ``objects`` holds only those. The
    requests run side by side (two round trips after the metadata, whatever the renditions)."""
    thumbnails = manifest.thumbnails_path or manifest.latest_thumbnail
    keys = [manifest.rendition_key(rendition) for rendition in manifest.renditions]
    with ThreadPoolExecutor(max_workers=len(keys) + 2) as pool:
        listing = pool.submit(_listed, source, location, thumbnails) if thumbnails else None
        master = pool.submit(_read_referenced, source, location, manifest.master_key, parse_master)
        playlists = [pool.submit(_read_rendition, source, location, key) for key in keys]
        variants = {posixpath.normpath(posixpath.join(manifest.hls_path, v.uri)): v for v in master.result()}
        renditions = [
            _rendition(rendition, variants.get(key), future.result(), key)
            for rendition, key, future in zip(manifest.renditions, keys, playlists, strict=True)
        ]
        objects = listing.result() if listing else {}
    return _media(objects, renditions, playlists[0].result(), manifest)


def _media(
    objects: dict[str, StoredObject],
    renditions: list[dict],
    first: MediaPlaylist,
    manifest: RecordingManifest,
) -> Media:
    """The Media of a recording whose playlists were read: renditions best first, the duration
    from the metadata (else the first rendition's playlist), the cue timeline."""
    renditions.sort(key=lambda r: (r["height"] or 0, r["bandwidth"] or 0), reverse=True)
    duration_ms = manifest.duration_ms or first.duration_ms
    return Media(
        objects=objects,
        renditions=renditions,
        thumbnails=_thumbnails(objects, manifest),
        timeline=Timeline(first, started_at=manifest.started_at, duration_ms=duration_ms),
        duration_ms=duration_ms,
    )


def _read_rendition(source: ObjectStore, location: RecordingPrefix, key: str) -> MediaPlaylist:
    """A rendition's playlist, parsed, once its last segment is known to be there."""
    playlist = _read_referenced(source, location, key, parse_media)
    if playlist.segments:
        last = posixpath.join(posixpath.dirname(key), playlist.segments[-1].uri)
        if not _exists(source, location.key(last)):
            where = source.url(location.key(last))
            raise exceptions.RecordingIncomplete(f"The last segment of a playlist, {where}, is missing")
    return playlist


def _listed(source: ObjectStore, location: RecordingPrefix, path: str) -> dict[str, StoredObject]:
    """The objects under ``path`` (relative to the prefix), by their path relative to it."""
    with storage_errors():
        return {o.key[len(location.prefix) + 1 :]: o for o in source.list(location.key(path))}


def _read_referenced(source: ObjectStore, location: RecordingPrefix, path: str, parse: Callable):
    """Read and parse the playlist at ``path`` without a listing: a missing one is
    RecordingIncomplete, like read_media's."""
    where = source.url(location.key(path))
    try:
        text = source.read(location.key(path))
    except objectstore.ObjectNotFound:
        raise exceptions.RecordingIncomplete(f"The playlist {where} is missing") from None
    except objectstore.StorageError as exc:
        raise translated_error(exc) from None
    try:
        return parse(text.decode("utf-8"))
    except (PlaylistError, UnicodeDecodeError) as exc:
        raise exceptions.MalformedRecording(f"{where}: {exc}") from None


def _read_playlist(
    source: ObjectStore,
    location: RecordingPrefix,
    objects: dict[str, StoredObject],
    path: str,
    parse: Callable,
):
    """Read and parse the playlist at ``path`` (relative to the prefix); clear errors otherwise."""
    where = source.url(location.key(path))
    if path not in objects:
        raise exceptions.RecordingIncomplete(f"The playlist {where} is missing")
    with storage_errors():
        text = source.read(location.key(path))
    try:
        return parse(text.decode("utf-8"))
    except (PlaylistError, UnicodeDecodeError) as exc:
        raise exceptions.MalformedRecording(f"{where}: {exc}") from None


def _rendition(rendition, variant, playlist: MediaPlaylist, key: str) -> dict:
    width, height = rendition.width, rendition.height
    if (width is None or height is None) and variant and "x" in variant.resolution:
        width, height = (int(n) for n in variant.resolution.split("x", 1))
    return {
        "name": rendition.path,
        "resolution": f"{width}x{height}" if width and height else "",
        "width": width,
        "height": height,
        "bandwidth": variant.bandwidth if variant else None,
        "codecs": variant.codecs if variant else "",
        "frame_rate": variant.frame_rate if variant else None,
        "duration_ms": playlist.duration_ms,
        "playlist": key,  # relative to the prefix until _complete
    }


def _thumbnails(objects: dict[str, StoredObject], manifest: RecordingManifest) -> list[str]:
    folder = manifest.thumbnails_path.rstrip("/") + "/" if manifest.thumbnails_path else None
    numbered = []
    for path in objects:
        match = THUMBNAIL.search(path)
        if folder and path.startswith(folder) and match:
            numbered.append((int(match[1]), path))
    thumbnails = [path for _, path in sorted(numbered)]
    if not thumbnails and manifest.latest_thumbnail in objects:
        thumbnails = [manifest.latest_thumbnail]
    return thumbnails

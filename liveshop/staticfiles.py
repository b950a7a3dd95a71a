"""Static files storages (STORAGES["staticfiles"], LIVESHOP_STATIC_STORAGE).

``StaticFilesStorage`` (production's default, "local"): WhiteNoise's compressed storage with hashed
names (cached for good by browsers and the CDN), which also rewrites our ES modules' relative
imports (``import { show } from "./lib/card.js";``) to the hashed names. Without that, a page's
hashed module would import the unhashed library file, which may be cached from an older release.
The web processes serve the files themselves (WhiteNoise).

``CdnStaticFilesStorage`` ("cdn", the AWS stack): the same hashed files in the CDN bucket under
``static/``, served by CloudFront (STATIC_URL is on the CDN's domain). The manifest (which hashed
name each file has) stays the image's, written by ``collectstatic`` at build with the storage
above (docker/Dockerfile): each task reads its own release's, so a page never names another
release's file, and no task reads S3 to start. The release step (docker/release, before any task
of the release starts) runs ``collectstatic`` with this storage: the same hashing gives the same
names, and it fails if they are not the ones the image's manifest holds. Nothing is deleted on the
way: the running release's pages keep their files while the next one uploads.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.storage import FileSystemStorage
from django.core.management.base import CommandError
from storages.backends.s3 import S3Storage
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Hashed names change with their content: cache them for good, at the edge and in browsers.
IMMUTABLE = "public, max-age=31536000, immutable"


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True


class CdnStaticFilesStorage(ManifestFilesMixin, S3Storage):
    support_js_module_import_aggregation = True  # the same rewriting as StaticFilesStorage
    querystring_auth = False  # a plain URL, the same for everyone: cacheable
    file_overwrite = True  # a name is its content: saving it again changes nothing

    def __init__(self, **options):
        options.setdefault("manifest_storage", FileSystemStorage(location=settings.STATIC_ROOT))
        options.setdefault("object_parameters", {"CacheControl": IMMUTABLE})
        self._uploading = False
        super().__init__(**options)

    def post_process(self, *args, **kwargs):
        self._uploading = True
        try:
            yield from super().post_process(*args, **kwargs)
        finally:
            self._uploading = False

    def delete(self, name):
        # While post-processing, Django deletes a hashed file before saving it again: on S3 that
        # would be a moment when a page of the running release gets a 404 (cached by the CDN).
        if not self._uploading:
            super().delete(name)

    def save_manifest(self):
        """Keep the image's manifest, after checking it names exactly what was uploaded; write
        one only where there is none (a collectstatic outside the image)."""
        built, _ = self.load_manifest() if self.manifest_storage.exists(self.manifest_name) else ({}, "")
        if not built:
            return super().save_manifest()
        if built != self.hashed_files:
            names = built.keys() | self.hashed_files.keys()
            differ = sorted(name for name in names if built.get(name) != self.hashed_files.get(name))
            raise CommandError(
                f"The static files differ from the ones this image was built with "
                f"({self.manifest_storage.path(self.manifest_name)}): {', '.join(differ[:5])}"
                f"{' ...' if len(differ) > 5 else ''}. Pages would name files that are not on the CDN."
            )

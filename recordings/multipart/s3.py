"""S3 multipart uploads for the default (S3) storage: the browser PUTs each part to a presigned
``UploadPart`` URL (its exact Content-Length signed in), the server lists what arrived and
completes. The bucket's lifecycle rule aborts uploads nobody finished (deploy/cloudformation.yaml,
7 days), and so does recordings.services.resumable.expire_resumable_uploads."""

from __future__ import annotations

import logging
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import storages

from recordings.multipart.base import S3_MIN_PART_BYTES, Part, PartStoreError, UploadGone

logger = logging.getLogger(__name__)

PRESIGN_EXPIRES = 3600  # a part URL is good for an hour; the page asks again for later parts


class S3PartStore:
    min_part_bytes = S3_MIN_PART_BYTES

    def __init__(self, storage=None):
        self.storage = storage or storages["default"]

    @property
    def client(self):
        return self.storage.bucket.meta.client

    @cached_property
    def presigner(self):
        """A client that signs part URLs with SigV4 whatever the storage's client uses, so the
        part's Content-Length is part of the signature (S3 refuses a body of another size)."""
        return boto3.session.Session().client(
            "s3",
            region_name=getattr(self.storage, "region_name", None),
            endpoint_url=getattr(self.storage, "endpoint_url", None),
            config=Config(signature_version="s3v4"),
        )

    def _key(self, name: str) -> str:
        location = (getattr(self.storage, "location", "") or "").strip("/")
        return f"{location}/{name}" if location else name

    def _where(self, name: str, store_id: str) -> dict:
        return {"Bucket": self.storage.bucket_name, "Key": self._key(name), "UploadId": store_id}

    def start(self, *, key: str, name: str, size: int, content_type: str) -> str:
        with _mapped("start the upload"):
            answer = self.client.create_multipart_upload(
                Bucket=self.storage.bucket_name, Key=self._key(name), ContentType=content_type
            )
        return answer["UploadId"]

    def part_url(self, *, key: str, name: str, store_id: str, number: int, size: int) -> str:
        params = {**self._where(name, store_id), "PartNumber": number, "ContentLength": size}
        with _mapped("sign a part's address"):
            return self.presigner.generate_presigned_url(
                "upload_part", Params=params, ExpiresIn=PRESIGN_EXPIRES
            )

    def parts(self, *, name: str, store_id: str) -> list[Part]:
        found = []
        with _mapped("list the parts"):
            for page in self.client.get_paginator("list_parts").paginate(**self._where(name, store_id)):
                found += [Part(p["PartNumber"], p["Size"]) for p in page.get("Parts", [])]
        return found

    def complete(self, *, name: str, store_id: str, count: int) -> None:
        with _mapped("list the parts"):
            pages = self.client.get_paginator("list_parts").paginate(**self._where(name, store_id))
            etags = {p["PartNumber"]: p["ETag"] for page in pages for p in page.get("Parts", [])}
        parts = [{"PartNumber": n, "ETag": etags[n]} for n in range(1, count + 1) if n in etags]
        with _mapped("join the parts"):
            self.client.complete_multipart_upload(
                **self._where(name, store_id), MultipartUpload={"Parts": parts}
            )

    def abort(self, *, name: str, store_id: str) -> None:
        try:
            with _mapped("abort the upload"):
                self.client.abort_multipart_upload(**self._where(name, store_id))
        except UploadGone:
            pass


class _mapped:
    """Boto errors as the store's: NoSuchUpload is UploadGone, the rest PartStoreError (the
    details go to the log, a sentence to the page)."""

    def __init__(self, doing: str):
        self.doing = doing

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchUpload", "NoSuchKey", "404"}:
                raise UploadGone("Storage no longer knows this upload; upload the video again.") from exc
            logger.warning("S3 refused to %s", self.doing, extra={"code": code, "error": str(exc)})
            raise PartStoreError(f"Storage refused to {self.doing} ({code}); try again.") from exc
        if isinstance(exc, BotoCoreError):
            logger.warning("S3 unreachable to %s", self.doing, extra={"error": str(exc)})
            raise PartStoreError(f"Storage could not be reached to {self.doing}; try again.") from exc
        return False

"""Set up Amazon IVS for Liveshop, or check that it is set up.

``manage.py ivs_setup [--bucket NAME] [--name NAME]`` finds the recording configuration by name,
or creates it (record to S3, reconnects merged for 60 s, a thumbnail every 10 s, all renditions),
then prints the settings to add. Idempotent: run again, it finds the same configuration.

``manage.py ivs_setup --check`` verifies the credentials and region (ListChannels), and that
IVS_RECORDING_CONFIGURATION_ARN exists and is ACTIVE; it fails with the reason otherwise.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from liveshop.video import ivs
from liveshop.video.base import VideoBackendError

# IVS's constraints on the recording bucket and names (the SDK does not check patterns).
BUCKET_NAME = re.compile(r"[a-z0-9.-]{3,63}")
CONFIGURATION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
ACTIVE, CREATING = "ACTIVE", "CREATING"


def recording_configuration_request(*, name: str, bucket: str) -> dict:
    """CreateRecordingConfiguration's parameters (shared/reference/ivs.md 1.7)."""
    return {
        "name": name,
        "destinationConfiguration": {"s3": {"bucketName": bucket}},
        # A host whose encoder drops and reconnects within a minute stays in one recording.
        "recordingReconnectWindowSeconds": 60,
        "thumbnailConfiguration": {
            "recordingMode": "INTERVAL",
            "targetIntervalSeconds": 10,
            "resolution": "HD",
            "storage": ["SEQUENTIAL", "LATEST"],
        },
        "renditionConfiguration": {"renditionSelection": "ALL"},
        "tags": {"app": "liveshop"},
    }


class Command(BaseCommand):
    help = "Create (or find) the IVS recording configuration and print its settings; --check verifies."

    def add_arguments(self, parser):
        parser.add_argument("--bucket", help="S3 bucket for recordings (default: IVS_RECORDINGS_BUCKET_NAME)")
        parser.add_argument(
            "--name", help="Recording configuration name (default: IVS_RECORDING_CONFIGURATION_NAME)"
        )
        parser.add_argument(
            "--check", action="store_true", help="Verify credentials and settings; change nothing"
        )

    def handle(self, *args, bucket=None, name=None, check=False, **options):
        self.client = ivs.ivs_client()
        if check:
            self.check_setup()
        else:
            self.set_up_recording(
                bucket=bucket or settings.IVS_RECORDINGS_BUCKET_NAME,
                name=name or settings.IVS_RECORDING_CONFIGURATION_NAME,
            )

    def aws(self, operation: str, **params) -> dict:
        """One IVS request through the gateway's error mapping; a failure is a CommandError."""
        try:
            return ivs.call(self.client, operation, **params)
        except VideoBackendError as exc:
            raise CommandError(f"{exc} Region: {settings.IVS_REGION}.") from exc

    def set_up_recording(self, *, bucket: str, name: str) -> None:
        if not bucket:
            raise CommandError("No recordings bucket: pass --bucket or set IVS_RECORDINGS_BUCKET_NAME.")
        if not BUCKET_NAME.fullmatch(bucket):
            raise CommandError(
                f"{bucket!r} is not a bucket name IVS accepts: 3-63 characters of a-z, 0-9, '-', '.'."
            )
        if not CONFIGURATION_NAME.fullmatch(name):
            raise CommandError(f"{name!r} is not an IVS name: 1-128 characters of a-z, A-Z, 0-9, '-', '_'.")
        config = self.find_configuration(name=name, bucket=bucket)
        if config:
            self.stdout.write(
                f"Found recording configuration {name!r} for bucket {bucket} ({config['state']})."
            )
        else:
            request = recording_configuration_request(name=name, bucket=bucket)
            config = self.aws("create_recording_configuration", **request)["recordingConfiguration"]
            self.stdout.write(
                self.style.SUCCESS(f"Created recording configuration {name!r} for bucket {bucket}.")
            )
        if config["state"] != ACTIVE:
            self.stdout.write(
                f"It is {config['state']}: IVS records only once it is ACTIVE, which `manage.py ivs_setup "
                f"--check` verifies. The bucket must be in {settings.IVS_REGION}."
            )
        self.stdout.write("\nAdd to the environment:\n")
        self.stdout.write(f"IVS_REGION={settings.IVS_REGION}")
        self.stdout.write(f"IVS_RECORDING_CONFIGURATION_ARN={config['arn']}")

    def find_configuration(self, *, name: str, bucket: str) -> dict | None:
        """The configuration named ``name`` for ``bucket`` (ACTIVE first), or None. Names need not
        be unique in IVS; one with this name but another bucket is an error, not a match."""
        matches, params = [], {}
        while True:
            page = self.aws("list_recording_configurations", **params)
            matches += [c for c in page["recordingConfigurations"] if c.get("name") == name]
            if not page.get("nextToken"):
                break
            params = {"nextToken": page["nextToken"]}
        same_bucket = [
            c for c in matches if c["destinationConfiguration"].get("s3", {}).get("bucketName") == bucket
        ]
        if matches and not same_bucket:
            other = matches[0]["destinationConfiguration"].get("s3", {}).get("bucketName")
            raise CommandError(
                f"Recording configuration {name!r} already records to bucket {other}, not {bucket}: "
                f"pass --bucket {other}, or --name for a new configuration."
            )
        return min(same_bucket, key=lambda c: c["state"] != ACTIVE, default=None)

    def check_setup(self) -> None:
        if settings.IVS_CHANNEL_TYPE not in ivs.CHANNEL_TYPES:
            raise CommandError(f"IVS_CHANNEL_TYPE must be one of {', '.join(ivs.CHANNEL_TYPES)}.")
        self.aws("list_channels", maxResults=1)
        self.stdout.write(f"OK: IVS answers in {settings.IVS_REGION} with these credentials.")
        arn = settings.IVS_RECORDING_CONFIGURATION_ARN
        if not arn:
            raise CommandError("IVS_RECORDING_CONFIGURATION_ARN is not set: run `manage.py ivs_setup`.")
        missing = f"IVS_RECORDING_CONFIGURATION_ARN names no recording configuration in {settings.IVS_REGION}"
        config = self.aws("get_recording_configuration", messages={ivs.NOT_FOUND: missing}, arn=arn)[
            "recordingConfiguration"
        ]
        bucket = config["destinationConfiguration"].get("s3", {}).get("bucketName", "?")
        if config["state"] == CREATING:
            raise CommandError(f"Recording configuration {arn} is still CREATING: check again in a minute.")
        if config["state"] != ACTIVE:
            raise CommandError(
                f"Recording configuration {arn} is {config['state']}: check that bucket {bucket} exists in "
                f"{settings.IVS_REGION} (IVS needs a same-region bucket), then create a new configuration."
            )
        self.stdout.write(
            f"OK: recording configuration {config.get('name', '')!r} is ACTIVE, recording to {bucket}."
        )
        self.check_playback_key()

    def check_playback_key(self) -> None:
        if settings.IVS_PLAYBACK_PRIVATE_KEY:
            try:
                ivs.playback_token("arn:aws:ivs:us-west-2:000000000000:channel/check")
            except VideoBackendError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write("OK: IVS_PLAYBACK_PRIVATE_KEY signs playback tokens.")
        if settings.IVS_PLAYBACK_KEY_PAIR_ARN:
            pair = self.aws("get_playback_key_pair", arn=settings.IVS_PLAYBACK_KEY_PAIR_ARN)["keyPair"]
            self.stdout.write(f"OK: playback key pair {pair.get('name', '')!r} is imported.")

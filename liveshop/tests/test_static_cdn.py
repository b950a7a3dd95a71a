"""Static files through the CDN (LIVESHOP_STATIC_STORAGE=cdn; liveshop/staticfiles.py). As in a
release: the image's ``collectstatic`` (production's WhiteNoise storage, as docker/Dockerfile
runs it) writes the manifest, then the release step's ``collectstatic`` (docker/release) with the
storage the settings choose uploads to the CDN bucket (moto's S3) every file that manifest names,
under the same name; pages then name them on the CDN's domain, the modules' imports resolve there,
and the page's policy lets them load. And the stack wires it: the web tasks and the release step
get the setting, the release step may write the bucket's static/ and nothing else."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import boto3
import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.templatetags.static import static
from django.test import override_settings
from django.urls import reverse
from moto import mock_aws
from storages.backends.s3 import S3Storage

from events.tests.factories import LiveEventFactory
from liveshop.staticfiles import IMMUTABLE
from tests.test_deploy import CloudFormationLoader, branches, props
from tests.test_settings import run_django

ROOT = Path(__file__).resolve().parent.parent.parent
BUCKET, REGION, DOMAIN = "liveshop-cdn", "eu-west-1", "d111abcdef8.cloudfront.net"
ENV = {"AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_REGION_NAME": REGION, "AWS_CLOUDFRONT_DOMAIN": DOMAIN}
PROBE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps([settings.STATIC_URL, settings.STORAGES['staticfiles']]))"
)
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")


def production_static_settings(extra=None) -> tuple[str, dict]:
    """STATIC_URL and STORAGES["staticfiles"] as the settings module makes them from ``ENV``."""
    result = run_django(PROBE, {"LIVESHOP_STATIC_STORAGE": "cdn", **ENV, **(extra or {})})
    assert result.returncode == 0, result.stderr
    url, storage = json.loads(result.stdout.splitlines()[-1])
    return url, storage


OUR_FILES = ["django.contrib.staticfiles.finders.FileSystemFinder"]  # static/ and the players


def collect(**overrides) -> None:
    with override_settings(**overrides):
        call_command("collectstatic", "--noinput", verbosity=0)


def build_image(static_root: Path, **overrides) -> tuple[Path, dict]:
    """STATIC_ROOT as the image has it: collectstatic with production's storage, as
    docker/Dockerfile runs it. (WhiteNoise's compression, after the files are named, is left out:
    it names nothing and takes long.)"""
    from liveshop.staticfiles import StaticFilesStorage

    storages = {
        **django_settings.STORAGES,
        "staticfiles": {"BACKEND": "liveshop.staticfiles.StaticFilesStorage"},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StaticFilesStorage, "compress_files", lambda self, paths: iter(()))
        collect(STATIC_ROOT=static_root, STORAGES=storages, **overrides)
    manifest = static_root / "staticfiles.json"
    return manifest, json.loads(manifest.read_text())["paths"]


@pytest.fixture(scope="module")
def cdn_settings() -> tuple[str, dict]:
    return production_static_settings()


@pytest.fixture(scope="module")
def released(tmp_path_factory, cdn_settings):
    """One release, once for the module: the image's collectstatic, then the release step's to
    the CDN bucket (moto's S3) with the settings LIVESHOP_STATIC_STORAGE=cdn makes. Our own files
    (static/ and the players); the apps' (the admin's, the API's) take the same path."""
    static_url, storage = cdn_settings
    static_root = tmp_path_factory.mktemp("image") / "staticfiles"
    manifest, built = build_image(static_root, STATICFILES_FINDERS=OUR_FILES)
    release = {
        "STATIC_ROOT": static_root,
        "STATICFILES_FINDERS": OUR_FILES,
        "STATIC_URL": static_url,
        "STORAGES": {**django_settings.STORAGES, "staticfiles": storage},
        "AWS_S3_ENDPOINT_URL": None,
    }
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        before = manifest.read_bytes()
        deleted: list[str] = []  # by the S3 storage, whatever asks
        real_delete = S3Storage.delete
        with pytest.MonkeyPatch.context() as spy:
            spy.setattr(
                S3Storage, "delete", lambda self, name: (deleted.append(name), real_delete(self, name))
            )
            collect(**release)
        yield client, manifest, before, built, release, deleted


def keys(client) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="static/")
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def test_cdn_settings_put_the_static_files_on_the_cloudfront_domain_under_static(cdn_settings):
    url, storage = cdn_settings

    assert url == f"https://{DOMAIN}/static/"
    assert storage["BACKEND"] == "liveshop.staticfiles.CdnStaticFilesStorage"
    assert storage["OPTIONS"] == {
        "bucket_name": BUCKET,
        "region_name": REGION,
        "custom_domain": DOMAIN,
        "location": "static",
    }
    result = run_django(PROBE, {"LIVESHOP_STATIC_STORAGE": "cdn"})  # no bucket: refused at startup
    assert result.returncode != 0
    assert (
        "LIVESHOP_STATIC_STORAGE=cdn needs AWS_STORAGE_BUCKET_NAME and AWS_CLOUDFRONT_DOMAIN" in result.stderr
    )
    production = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    }
    default = run_django(PROBE, {**production, **ENV})
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout.splitlines()[-1]) == [
        "/static/",
        {"BACKEND": "liveshop.staticfiles.StaticFilesStorage"},  # WhiteNoise from the web tasks
    ]


def test_the_release_uploads_every_file_the_images_manifest_names_under_that_name(released):
    client, manifest, before, built, release, _ = released

    uploaded = keys(client)
    assert len(built) > 50
    assert {f"static/{hashed}" for hashed in built.values()} <= uploaded
    assert "static/staticfiles.json" not in uploaded  # the tasks read the image's own
    assert manifest.read_bytes() == before
    head = client.head_object(Bucket=BUCKET, Key=f"static/{built['js/viewer.js']}")
    assert head["CacheControl"] == IMMUTABLE
    assert head["ContentType"] in ("text/javascript", "application/javascript")
    with override_settings(**release):
        assert static("js/viewer.js") == f"https://{DOMAIN}/static/{built['js/viewer.js']}"


def test_the_modules_on_the_cdn_import_hashed_modules_that_are_there(released):
    client, _, _, built, _, _ = released
    uploaded = keys(client)

    checked = 0
    for name, hashed in built.items():
        if not name.startswith("js/") or not name.endswith(".js"):
            continue
        body = client.get_object(Bucket=BUCKET, Key=f"static/{hashed}")["Body"].read().decode()
        for target in IMPORT.findall(body):
            key = posixpath.normpath(posixpath.join(posixpath.dirname(f"static/{hashed}"), target))
            assert key in uploaded, (name, target)
            assert re.search(r"\.[0-9a-f]{12}\.js$", target), (name, target)  # a hashed name
            checked += 1
    assert checked > 10


def test_the_release_deletes_nothing_the_running_releases_pages_name(released):
    """Django's post-processing deletes a hashed file before saving it again (each pass over the
    modules); on S3 that is a moment when a page of the release still serving gets a 404, which
    the CDN would cache. An unchanged file keeps its name across releases, so this is that case."""
    client, _, _, built, _, deleted = released

    assert set(built.values()).isdisjoint(deleted)
    assert {f"static/{hashed}" for hashed in built.values()} <= keys(client)


def test_a_release_whose_static_files_differ_from_the_images_fails(released, tmp_path):
    _, _, _, _, release, _ = released
    sources = tmp_path / "static"
    (sources / "js").mkdir(parents=True)
    (sources / "js" / "app.js").write_text('import { late } from "./late.js";\n')
    (sources / "js" / "late.js").write_text("export const late = 1;\n")
    image = tmp_path / "staticfiles"
    build_image(image, STATICFILES_DIRS=[sources], STATICFILES_FINDERS=OUR_FILES)
    (sources / "js" / "late.js").write_text("export const late = 2;\n")  # changed after the build

    with pytest.raises(
        CommandError, match=r"differ from the ones this image was built with .*js/app\.js, js/late\.js"
    ):
        collect(**{**release, "STATIC_ROOT": image, "STATICFILES_DIRS": [sources]})


@pytest.mark.django_db
def test_a_page_names_its_scripts_and_styles_on_the_cdn_and_its_policy_lets_them_load(released, client):
    s3, _, _, _, release, _ = released
    event = LiveEventFactory()

    with override_settings(**release):
        response = client.get(
            reverse("viewer:watch", kwargs={"brand": event.organization.slug, "slug": event.slug})
        )

    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', html)
    assert scripts and styles
    uploaded = keys(s3)
    policy = {
        name: values
        for name, *values in (
            part.split() for part in response["Content-Security-Policy"].split(";") if part.strip()
        )
    }
    for url, directive in [*((u, "script-src") for u in scripts), *((u, "style-src") for u in styles)]:
        assert url.startswith(f"https://{DOMAIN}/static/"), url
        assert url.removeprefix(f"https://{DOMAIN}/") in uploaded, url
        assert f"https://{DOMAIN}" in policy[directive], directive


# --- The stack ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resources() -> dict:
    template = yaml.load((ROOT / "deploy" / "cloudformation.yaml").read_text(), Loader=CloudFormationLoader)  # noqa: S506
    return template["Resources"]


def container_env(resources, task: str) -> dict:
    (container,) = [
        c for c in props(resources, task)["ContainerDefinitions"] if c["Name"] in ("web", "migrate")
    ]
    return {e["Name"]: e["Value"] for e in branches(container["Environment"])}


@pytest.mark.parametrize("task", ["WebTaskDefinition", "MigrateTaskDefinition"])
def test_the_web_tasks_and_the_release_step_use_the_stacks_cdn_for_static_files(resources, task):
    env = container_env(resources, task)

    assert env["LIVESHOP_STATIC_STORAGE"] == "cdn"
    assert env["AWS_STORAGE_BUCKET_NAME"] == {"Ref": "CdnBucket"}
    assert (
        env["AWS_CLOUDFRONT_DOMAIN"] == container_env(resources, "WebTaskDefinition")["AWS_CLOUDFRONT_DOMAIN"]
    )
    assert "collectstatic --noinput" in (ROOT / "docker" / "release").read_text()


def test_the_release_step_may_write_the_cdn_buckets_static_files_only(resources):
    release = props(resources, "MigrateTaskDefinition")
    role = release["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        s for policy in props(resources, role)["Policies"] for s in policy["PolicyDocument"]["Statement"]
    ]
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]

    assert [s["Resource"] for s in writes] == [{"Fn::Sub": "${CdnBucket.Arn}/static/*"}]
    assert all(a.startswith("s3:") for s in statements for a in branches(s["Action"]))
    passed = [
        s
        for s in props(resources, "MigrateFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"]
        if s["Action"] == "iam:PassRole"
    ]
    assert {"Fn::GetAtt": [role, "Arn"]} in passed[0]["Resource"]  # the function may start the task


def test_cloudfront_serves_the_static_files_publicly_with_cors_for_module_scripts(resources):
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    patterns = [b["PathPattern"] for b in branches(config["CacheBehaviors"])]

    assert not any(p.startswith("static") for p in patterns)  # the default behavior, unsigned
    assert "TrustedKeyGroups" not in default
    assert default["ResponseHeadersPolicyId"] == "60669652-455b-4ae9-85a4-c4c02393f86c"  # Managed-SimpleCORS
    assert default["Compress"] is True
    denied = [
        s for s in props(resources, "CdnBucketPolicy")["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert not any("static" in json.dumps(s["Resource"]) for s in denied)

"""deploy/cloudformation.yaml without an AWS account: cfn-lint finds nothing, and the wiring the app
relies on holds (the EventBridge patterns, the webhook header and URL, the ingest task's
LIVESHOP_EVENT, the CloudFront-only CDN bucket, least-privilege IAM)."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from events import stream_state
from events.webhooks import SECRET_HEADER
from liveshop.video import eventbridge as ivs_events

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "cloudformation.yaml"
# IVS regions cfn-lint checks the template against (the default and Liveshop's IVS_REGION default).
LINT_REGIONS = ["us-east-1", "us-west-2"]
INGEST_COMMAND = ["python", "manage.py", "ingest_recording", "--event-env", "LIVESHOP_EVENT"]
# The actions AWS only grants on Resource "*" that the template uses (no resource-level permission
# exists for them): the execution role's registry login. (The app's metrics are EMF log lines:
# no cloudwatch:PutMetricData.)
STAR_RESOURCE_ACTIONS = {"ecr:GetAuthorizationToken"}
# Every task's security groups: the stack's AppSecurityGroup, plus SecurityGroupIds when given.
APP_SECURITY_GROUPS = {
    "Fn::If": [
        "HasExtraSecurityGroups",
        {
            "Fn::Split": [
                ",",
                {
                    "Fn::Join": [
                        ",",
                        [{"Ref": "AppSecurityGroup"}, {"Fn::Join": [",", {"Ref": "SecurityGroupIds"}]}],
                    ]
                },
            ]
        },
        [{"Ref": "AppSecurityGroup"}],
    ]
}
# DATABASE_URL and REDIS_URL: the stack's own secrets (DataServices all-in) or the ones passed in.
DATABASE_URL_SECRET = {"Fn::If": ["AllIn", {"Ref": "DatabaseUrlSecret"}, {"Ref": "DatabaseUrlSecretArn"}]}
REDIS_URL_SECRET = {"Fn::If": ["AllIn", {"Ref": "RedisUrlSecret"}, {"Ref": "RedisUrlSecretArn"}]}

# An "IVS Recording State Change" event as IVS sends it (shared/reference/ivs.md 3.3).
RECORDING_END = {
    "version": "0",
    "id": "12345678-1a23-4567-a1bc-1a2b34567890",
    "detail-type": "IVS Recording State Change",
    "source": "aws.ivs",
    "account": "123456789012",
    "time": "2024-06-24T07:51:32Z",
    "region": "us-west-2",
    "resources": ["arn:aws:ivs:us-west-2:123456789012:channel/AsXego4U6tnj"],
    "detail": {
        "channel_name": "brand-42-event-7",
        "stream_id": "st-1A2b3c4D5e6F78ghij9Klmn",
        "recording_status": "Recording End",
        "recording_status_reason": "",
        "recording_s3_bucket_name": "liveshop-ivs-recordings",
        "recording_s3_key_prefix": "ivs/v1/123456789012/AsXego4U6tnj/2024/6/23/20/12/j8Z9O91ndcVs",
        "recording_duration_ms": 99370264,
        "recording_session_id": "a6RfV23ES97iyfoQ",
        "recording_session_stream_ids": ["st-254sopYUvi6F78ghpO9vn0A", "st-1A2b3c4D5e6F78ghij9Klmn"],
    },
}


# --- Reading the template ------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus CloudFormation's short tags (!Ref, !Sub...), read as the long
    form ({"Ref": ...}, {"Fn::Sub": ...}), so the tests run with or without cfn-lint."""


def _short_tag(tag: str):
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in [
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "ImportValue",
    "Base64",
    "Cidr",
    "GetAZs",
]:
    CloudFormationLoader.add_constructor(f"!{_tag}", _short_tag(_tag))


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506 (a SafeLoader)


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]


def props(resources: dict, name: str) -> dict:
    return resources[name]["Properties"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def branches(value) -> list:
    """Every value an Fn::If may take (AWS::NoValue dropped), flattened into a list."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [item for branch in value["Fn::If"][1:] for item in branches(branch)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    if isinstance(value, list):
        return [item for element in value for item in branches(element)]
    return [value]


def join(value) -> str:
    """The string an Fn::Join of literal strings makes."""
    if isinstance(value, str):
        return value
    delimiter, parts = value["Fn::Join"]
    return delimiter.join(parts)


def json_path(document: dict, path: str):
    """The value at an EventBridge InputPathsMap path ($.a.b, $.list[0]); KeyError if absent."""
    value = document
    for part in path.removeprefix("$.").split("."):
        name, _, index = part.partition("[")
        value = value[name]
        if index:
            value = value[int(index.rstrip("]"))]
    return value


def transform(input_template: str, paths: dict, event: dict) -> str:
    """What EventBridge's input transformer makes of ``event``: a placeholder inside a JSON string
    gets the raw value (EventBridge escapes nothing), one outside it the value as JSON."""
    values = {name: json_path(event, path) for name, path in paths.items()}
    out, in_string, i = [], False, 0
    while i < len(input_template):
        char = input_template[i]
        if char == "\\" and in_string:
            out.append(input_template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        match = re.match(r"<([A-Za-z0-9_.-]+)>", input_template[i:])
        if char == "<" and match and match[1] in values:
            value = values[match[1]]
            out.append(str(value) if in_string else json.dumps(value))
            i += len(match[0])
            continue
        out.append(char)
        i += 1
    return "".join(out)


def iam_statements(resources: dict):
    """(resource name, statement) for every identity policy of the template's IAM roles."""
    for name, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in branches(policy["PolicyDocument"]["Statement"]):
                    yield name, statement


def role_allows(resources: dict, role: str) -> dict[str, list]:
    """{action: [resources]} that ``role``'s policies allow."""
    allowed: dict[str, list] = {}
    for name, statement in iam_statements(resources):
        if name == role and statement["Effect"] == "Allow":
            for action in as_list(statement["Action"]):
                allowed.setdefault(action, []).extend(branches(as_list(statement["Resource"])))
    return allowed


# --- cfn-lint ------------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing():
    api = pytest.importorskip("cfnlint.api", reason="cfn-lint is not installed (requirements-dev.txt)")
    from cfnlint.config import ManualArgs

    matches = api.lint_file(TEMPLATE, config=ManualArgs(regions=LINT_REGIONS))

    assert [str(match) for match in matches] == []


def test_the_test_loader_reads_the_template_as_cfn_lint_does(template):
    decode = pytest.importorskip("cfnlint.decode", reason="cfn-lint is not installed (requirements-dev.txt)")

    decoded, errors = decode.decode(str(TEMPLATE))

    assert errors == []
    assert json.loads(json.dumps(decoded)) == json.loads(json.dumps(template))


# --- EventBridge ---------------------------------------------------------------------------------


def test_stream_state_rule_matches_exactly_the_ivs_stream_events_the_webhook_handles(resources):
    pattern = props(resources, "StreamStateRule")["EventPattern"]
    forwarded = {
        ivs_events.STREAM_START,
        ivs_events.STREAM_END,
        ivs_events.STREAM_FAILURE,
        ivs_events.SESSION_CREATED,
        ivs_events.SESSION_ENDED,
        *stream_state.HEALTH_AFTER,  # Starvation Start/End: the console's stream health
    }

    assert set(pattern) == {"source", "detail-type", "detail"}
    assert pattern["source"] == ["aws.ivs"]
    assert pattern["detail-type"] == [ivs_events.STREAM_STATE_CHANGE, stream_state.STREAM_HEALTH_CHANGE]
    assert set(pattern["detail"]) == {"event_name"}
    assert sorted(pattern["detail"]["event_name"]) == sorted(forwarded)


def test_stream_state_rule_posts_the_whole_event_to_the_webhook_with_retries_and_a_dlq(resources):
    (target,) = props(resources, "StreamStateRule")["Targets"]
    destination = props(resources, "WebhookApiDestination")

    assert target["Arn"] == {"Fn::GetAtt": ["WebhookApiDestination", "Arn"]}
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)  # the body is the event
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationEndpoint"] == {"Fn::Sub": "${AppUrl}" + reverse("events:ivs-webhook")}
    assert destination["InvocationRateLimitPerSecond"] == {"Ref": "WebhookRateLimitPerSecond"}
    assert destination["ConnectionArn"] == {"Fn::GetAtt": ["WebhookConnection", "Arn"]}
    role = target["RoleArn"]["Fn::GetAtt"][0]
    assert role_allows(resources, role) == {
        "events:InvokeApiDestination": [{"Fn::GetAtt": ["WebhookApiDestination", "Arn"]}]
    }


def test_connection_sends_the_webhook_secret_from_secrets_manager_in_the_apps_header(resources):
    connection = props(resources, "WebhookConnection")
    api_key = connection["AuthParameters"]["ApiKeyAuthParameters"]

    assert connection["AuthorizationType"] == "API_KEY"
    assert api_key["ApiKeyName"] == SECRET_HEADER == "X-Liveshop-Webhook-Secret"
    values = [value["Fn::Sub"] for value in branches(api_key["ApiKeyValue"])]
    assert values
    for value in values:
        assert value.startswith("{{resolve:secretsmanager:${WebhookSecretArn}:SecretString")
        assert value.endswith("}}")


def test_recording_rule_matches_the_end_of_this_stacks_recordings_only(resources):
    pattern = props(resources, "RecordingStateRule")["EventPattern"]

    assert set(pattern) == {"source", "detail-type", "detail"}
    assert pattern["source"] == ["aws.ivs"]
    assert pattern["detail-type"] == [ivs_events.RECORDING_STATE_CHANGE]
    assert pattern["detail"] == {
        "recording_status": ["Recording End", "Recording End Failure"],
        "recording_s3_bucket_name": [{"Ref": "RecordingsBucket"}],
    }


def test_recording_rule_runs_the_ingest_task_on_fargate(resources):
    (target,) = props(resources, "RecordingStateRule")["Targets"]
    ecs = target["EcsParameters"]
    network = ecs["NetworkConfiguration"]["AwsVpcConfiguration"]

    assert target["Arn"] == {
        "Fn::If": ["CreateCluster", {"Fn::GetAtt": ["Cluster", "Arn"]}, {"Ref": "ClusterArn"}]
    }
    assert ecs["TaskDefinitionArn"] == {"Ref": "IngestTaskDefinition"}
    assert ecs["LaunchType"] == "FARGATE"
    assert ecs["TaskCount"] == 1
    assert network == {
        "Subnets": {"Ref": "SubnetIds"},
        "SecurityGroups": APP_SECURITY_GROUPS,
        "AssignPublicIp": {"Ref": "AssignPublicIp"},
    }
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_recording_rule_passes_the_event_to_the_ingest_container_as_liveshop_event(resources):
    transformer = props(resources, "RecordingStateRule")["Targets"][0]["InputTransformer"]
    (container,) = props(resources, "IngestTaskDefinition")["ContainerDefinitions"]

    # The ECS target's input is RunTask's `overrides`: it must be JSON of that shape.
    overrides = json.loads(
        transform(join(transformer["InputTemplate"]), transformer["InputPathsMap"], RECORDING_END)
    )

    assert set(overrides) == {"containerOverrides"}
    (override,) = overrides["containerOverrides"]
    assert override["name"] == container["Name"]
    assert set(override) == {"name", "environment"}
    (variable,) = override["environment"]
    assert variable["name"] == "LIVESHOP_EVENT"
    assert isinstance(variable["value"], str)  # ECS takes strings only
    event = json.loads(variable["value"])
    expected_detail = {
        k: v for k, v in RECORDING_END["detail"].items() if k != "recording_session_stream_ids"
    }
    assert event == {**RECORDING_END, "detail": expected_detail}


def test_every_placeholder_of_the_input_template_is_defined(resources):
    transformer = props(resources, "RecordingStateRule")["Targets"][0]["InputTransformer"]
    used = set(re.findall(r"<([A-Za-z0-9_.-]+)>", join(transformer["InputTemplate"])))

    assert used == set(transformer["InputPathsMap"])
    assert len(used) <= 100  # EventBridge's limit


def test_dead_letter_queue_admits_only_the_two_rules(resources):
    (statement,) = props(resources, "DeadLetterQueuePolicy")["PolicyDocument"]["Statement"]

    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["StreamStateRule", "Arn"]},
        {"Fn::GetAtt": ["RecordingStateRule", "Arn"]},
    ]


# --- ECS -----------------------------------------------------------------------------------------


def test_ingest_task_runs_the_command_on_fargate_with_logs_and_secrets(resources):
    task = props(resources, "IngestTaskDefinition")
    (container,) = task["ContainerDefinitions"]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    secrets = {item["Name"]: item["ValueFrom"] for item in container["Secrets"]}

    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["NetworkMode"] == "awsvpc"
    assert container["Image"] == {"Ref": "ImageUri"}
    assert container["Command"] == INGEST_COMMAND
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "LogGroup"}
    assert secrets == {
        "DJANGO_SECRET_KEY": {"Ref": "DjangoSecretKeyArn"},
        "DATABASE_URL": DATABASE_URL_SECRET,
        "REDIS_URL": REDIS_URL_SECRET,
        "LIVESHOP_ENCRYPTION_KEYS": {"Ref": "EncryptionKeysSecretArn"},
    }
    assert not set(secrets) & set(environment)
    assert environment["DJANGO_DEBUG"] == "false"
    assert environment["VIDEO_BACKEND"] == "ivs"
    assert environment["IVS_RECORDING_CONFIGURATION_ARN"] == {"Fn::GetAtt": ["RecordingConfiguration", "Arn"]}
    assert environment["AWS_RECORDINGS_BUCKET_NAME"] == {"Ref": "CdnBucket"}
    assert environment["AWS_CLOUDFRONT_DOMAIN"] == {"Fn::GetAtt": ["CdnDistribution", "DomainName"]}
    assert task["ExecutionRoleArn"] == {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}
    assert task["TaskRoleArn"] == {"Fn::GetAtt": ["IngestTaskRole", "Arn"]}


def test_secrets_are_secrets_manager_arns_without_defaults(template):
    parameters = template["Parameters"]
    secret_parameters = [name for name in parameters if name.endswith("SecretArn")]

    assert len(secret_parameters) >= 5
    for name in secret_parameters:
        assert parameters[name].get("Default", "") == "", name
        assert ":secretsmanager:" in parameters[name]["AllowedPattern"], name


# --- IVS -----------------------------------------------------------------------------------------


def test_recording_configuration_matches_ivs_setup(resources):
    config = props(resources, "RecordingConfiguration")

    assert config["DestinationConfiguration"] == {"S3": {"BucketName": {"Ref": "RecordingsBucket"}}}
    assert config["RecordingReconnectWindowSeconds"] == 60
    assert config["ThumbnailConfiguration"]["RecordingMode"] == "INTERVAL"
    assert config["ThumbnailConfiguration"]["TargetIntervalSeconds"] == 10
    assert config["ThumbnailConfiguration"]["Storage"] == ["SEQUENTIAL", "LATEST"]
    assert config["RenditionConfiguration"] == {"RenditionSelection": "ALL"}


# --- S3 and CloudFront ---------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["RecordingsBucket", "CdnBucket"])
def test_buckets_block_public_access_and_are_kept_on_delete(resources, bucket):
    assert props(resources, bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert resources[bucket]["DeletionPolicy"] == resources[bucket]["UpdateReplacePolicy"] == "Retain"


def test_cdn_bucket_policy_allows_only_this_distribution_through_oac(resources):
    policy = props(resources, "CdnBucketPolicy")
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]

    assert policy["Bucket"] == {"Ref": "CdnBucket"}
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Sub": "${CdnBucket.Arn}/*"}
    distribution = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CdnDistribution}"
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": distribution}}}
    for deny in denies:  # the TLS-only guard, and the originals kept from CloudFront
        if deny["Sid"] == "DenyCloudFrontTheOriginals":
            assert deny["Principal"] == {"Service": "cloudfront.amazonaws.com"}
            assert deny["Resource"] == {"Fn::Sub": "${CdnBucket.Arn}/media/uploads/*"}
        else:
            assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cloudfront_reads_the_cdn_bucket_with_origin_access_control(resources):
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    oac = props(resources, "CdnOriginAccessControl")["OriginAccessControlConfig"]
    origin = origins(resources)["cdn-bucket"]
    assert config["Origins"][0] == origin  # always there; the recordings bucket's only in reference mode

    assert origin["DomainName"] == {"Fn::GetAtt": ["CdnBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["CdnOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always"
    assert oac["SigningProtocol"] == "sigv4"
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == origin["Id"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


# Where the app's storages put private media (recordings.models.PRIVATE_MEDIA_PREFIX in the
# "recordings" storage, whose S3 location is "recordings"; uploads' originals in the default
# storage's "media"): each needs a behavior that demands the key group's signed cookies.
SIGNED_PATHS = ["recordings/private/*", "recordings/replays/uploads/*", "media/uploads/*"]


def behaviors(resources) -> dict[str, dict]:
    """The distribution's cache behaviors by path, those of either branch of an Fn::If included."""
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    return {b["PathPattern"]: b for b in branches(config.get("CacheBehaviors", []))}


def origins(resources) -> dict[str, dict]:
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    return {o["Id"]: o for o in branches(config["Origins"])}


def test_private_media_paths_match_where_the_app_stores_them(settings):
    from recordings.models import PRIVATE_MEDIA_PREFIX, Recording, new_media_prefix, upload_path

    media, recordings = "media", "recordings"  # the S3 storages' locations (liveshop/settings/base.py)
    assert new_media_prefix(private=True).startswith(f"{PRIVATE_MEDIA_PREFIX}/")
    assert f"{recordings}/{PRIVATE_MEDIA_PREFIX}/*" in SIGNED_PATHS
    assert f"{recordings}/{settings.RECORDINGS_CDN_PREFIX}/uploads/*" in SIGNED_PATHS
    assert f"{media}/{upload_path(Recording(), 'a.mp4')}".startswith("media/uploads/")


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_private_media_behaviors_require_the_key_groups_signed_cookies(resources, path):
    behavior = behaviors(resources)[path]
    assert behavior["TrustedKeyGroups"] == [{"Ref": "MediaKeyGroup"}]
    assert behavior["TargetOriginId"] == "cdn-bucket"
    assert behavior["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https")
    assert "TrustedSigners" not in behavior  # the legacy account-key signers
    assert set(behavior["AllowedMethods"]) <= {"GET", "HEAD", "OPTIONS"}


def test_the_key_group_holds_the_public_key_given_as_a_parameter(template, resources):
    group = props(resources, "MediaKeyGroup")["KeyGroupConfig"]
    key = props(resources, "MediaPublicKey")["PublicKeyConfig"]
    parameter = template["Parameters"]["MediaSigningPublicKey"]

    assert group["Items"] == [{"Ref": "MediaPublicKey"}]
    assert key["EncodedKey"] == {"Ref": "MediaSigningPublicKey"}
    assert "Default" not in parameter  # no stack without it: private media would be unplayable
    pem = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A+/=\n-----END PUBLIC KEY-----\n"
    assert re.fullmatch(parameter["AllowedPattern"], pem)
    assert not re.fullmatch(parameter["AllowedPattern"], "-----BEGIN RSA PRIVATE KEY-----\nMII\n")
    assert template["Outputs"]["MediaSigningKeyId"]["Value"] == {"Ref": "MediaPublicKey"}


def test_private_media_answers_cors_with_credentials_for_the_site_only(resources):
    cors = props(resources, "PrivateMediaCorsPolicy")["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert cors["AccessControlAllowCredentials"] is True
    assert cors["AccessControlAllowOrigins"] == {"Items": [{"Ref": "AppUrl"}]}  # never "*"
    for path in ("recordings/private/*", "recordings/replays/uploads/*"):
        assert behaviors(resources)[path]["ResponseHeadersPolicyId"] == {"Ref": "PrivateMediaCorsPolicy"}


def test_the_distribution_can_answer_on_a_domain_the_sites_cookies_reach(template, resources):
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    domain = {"Ref": "MediaDomainName"}
    assert config["Aliases"] == {"Fn::If": ["HasMediaDomain", [domain], {"Ref": "AWS::NoValue"}]}
    condition, with_domain, without = config["ViewerCertificate"]["Fn::If"]
    assert condition == "HasMediaDomain"
    assert with_domain["AcmCertificateArn"] == {"Ref": "MediaCertificateArn"}
    assert with_domain["SslSupportMethod"] == "sni-only"
    assert without == {"CloudFrontDefaultCertificate": True}
    rule = template["Rules"]["MediaDomainNeedsItsCertificate"]  # a domain without one fails early
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MediaCertificateArn"}, ""]}]
    }


def test_public_media_stays_on_the_default_behavior_without_signing(resources):
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    assert "TrustedKeyGroups" not in config["DefaultCacheBehavior"]
    assert not [p for p in behaviors(resources) if p.startswith("recordings/replays/") and "uploads" not in p]


# --- IAM -----------------------------------------------------------------------------------------


def test_iam_policies_use_no_wildcard_action_and_star_resource_only_where_aws_requires(resources):
    statements = list(iam_statements(resources))

    assert statements
    for name, statement in statements:
        actions = as_list(statement["Action"])
        assert statement["Effect"] == "Allow", name
        assert not [a for a in actions if a == "*" or a.endswith(":*")], (name, actions)
        if "*" in branches(as_list(statement["Resource"])):
            assert set(actions) <= STAR_RESOURCE_ACTIONS, (name, actions)
            assert as_list(statement["Resource"]) == ["*"], name


def test_resource_policies_grant_no_wildcard_action(resources):
    for name, resource in resources.items():
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
            for statement in branches(resource["Properties"]["PolicyDocument"]["Statement"]):
                if statement["Effect"] == "Allow":
                    assert "*" not in str(statement["Action"]), name
                    assert statement["Principal"] != "*", name


def test_ingest_task_role_reads_recordings_and_writes_the_cdn_bucket_only(resources):
    allowed = role_allows(resources, "IngestTaskRole")

    assert allowed == {
        "s3:ListBucket": [{"Fn::GetAtt": ["RecordingsBucket", "Arn"]}, {"Fn::GetAtt": ["CdnBucket", "Arn"]}],
        "s3:GetObject": [{"Fn::Sub": "${RecordingsBucket.Arn}/*"}, {"Fn::Sub": "${CdnBucket.Arn}/*"}],
        "s3:PutObject": [{"Fn::Sub": "${CdnBucket.Arn}/*"}],
    }


def test_eventbridge_may_run_only_the_ingest_task_and_pass_only_its_roles(resources):
    allowed = role_allows(resources, "RunIngestTaskRole")

    assert allowed == {
        "ecs:RunTask": [{"Ref": "IngestTaskDefinition"}],
        "iam:PassRole": [
            {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
            {"Fn::GetAtt": ["IngestTaskRole", "Arn"]},
        ],
    }


def test_execution_role_reads_exactly_the_named_secrets(resources):
    allowed = role_allows(resources, "TaskExecutionRole")

    assert allowed["secretsmanager:GetSecretValue"] == [
        {"Ref": "WebhookSecretArn"},
        {"Ref": "DjangoSecretKeyArn"},
        {"Ref": "DatabaseUrlSecret"},
        {"Ref": "DatabaseUrlSecretArn"},
        {"Ref": "RedisUrlSecret"},
        {"Ref": "RedisUrlSecretArn"},
        {"Ref": "EncryptionKeysSecretArn"},
        {"Ref": "PlaybackPrivateKeySecretArn"},
        {"Ref": "MediaSigningKeySecretArn"},
    ]
    assert allowed["logs:PutLogEvents"] == [{"Fn::GetAtt": ["LogGroup", "Arn"]}]


def test_app_task_role_covers_every_ivs_call_the_gateway_and_ivs_setup_check_make(resources):
    allowed = role_allows(resources, "AppTaskRole")
    channels = {"Fn::Sub": "arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:channel/*"}
    stream_keys = {"Fn::Sub": "arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:stream-key/*"}
    recording_configuration = {"Fn::GetAtt": ["RecordingConfiguration", "Arn"]}

    for action in [
        *("DeleteChannel", "GetChannel", "GetStream", "StopStream", "PutMetadata", "ListStreamKeys"),
        "StartViewerSessionRevocation",
    ]:
        assert channels in allowed[f"ivs:{action}"], action
    for action in ["GetStreamKey", "CreateStreamKey", "DeleteStreamKey"]:
        assert stream_keys in allowed[f"ivs:{action}"], action
    for resource in [channels, stream_keys, recording_configuration]:  # CreateChannel makes a key too
        assert resource in allowed["ivs:CreateChannel"], resource
    assert recording_configuration in allowed["ivs:GetRecordingConfiguration"]
    assert channels in allowed["ivs:ListChannels"]
    assert {"Fn::Sub": "${CdnBucket.Arn}/*"} in allowed["s3:PutObject"]
    assert {"Fn::Sub": "${RecordingsBucket.Arn}/*"} in allowed["s3:GetObject"]


def test_web_and_worker_invalidate_deleted_videos_on_this_stacks_distribution(resources):
    """Issue 21's CDN gateway: a deleted or replaced video's folder leaves this distribution's
    caches (recordings.invalidation), from the web (delete, replace) and the worker (its task)."""
    from recordings.invalidation import BACKENDS

    for task, name in [("WebTaskDefinition", "web"), ("WorkerTaskDefinition", "worker")]:
        (container,) = [c for c in props(resources, task)["ContainerDefinitions"] if c["Name"] == name]
        environment = {e["Name"]: e["Value"] for e in container["Environment"] if "Name" in e}
        assert environment["LIVESHOP_CDN_BACKEND"] == "cloudfront" and "cloudfront" in BACKENDS, name
        assert environment["AWS_CLOUDFRONT_DISTRIBUTION_ID"] == {"Ref": "CdnDistribution"}, name
    assert "cloudfront:CreateInvalidation" in role_allows(resources, "AppTaskRole")


# --- Outputs and tooling -------------------------------------------------------------------------


def test_outputs_give_the_app_its_settings(template):
    outputs = template["Outputs"]

    assert outputs["CloudFrontDomain"]["Value"] == {"Fn::GetAtt": ["CdnDistribution", "DomainName"]}
    assert outputs["RecordingConfigurationArn"]["Value"] == {"Fn::GetAtt": ["RecordingConfiguration", "Arn"]}
    assert outputs["CdnBucketName"]["Value"] == {"Ref": "CdnBucket"}
    assert outputs["RecordingsBucketName"]["Value"] == {"Ref": "RecordingsBucket"}
    assert outputs["IngestTaskDefinitionArn"]["Value"] == {"Ref": "IngestTaskDefinition"}
    assert outputs["AppTaskRoleArn"]["Value"] == {"Fn::GetAtt": ["AppTaskRole", "Arn"]}
    assert "Export" in outputs["AppTaskRoleArn"]


def test_make_lint_runs_cfn_lint_pinned_in_the_dev_requirements():
    assert "$(BIN)/cfn-lint deploy/*.yaml" in (ROOT / "Makefile").read_text()
    assert "cfn-lint==1.58.0" in (ROOT / "requirements-dev.txt").read_text().splitlines()


# --- Zero-copy replays (RECORDINGS_INGEST_MODE=reference) ----------------------------------------


def only_in_reference_mode(value) -> dict:
    """The value of an ``Fn::If [ReferenceRecordings, value, AWS::NoValue]``."""
    condition, value, otherwise = value["Fn::If"]
    assert (condition, otherwise) == ("ReferenceRecordings", {"Ref": "AWS::NoValue"})
    return value


def test_the_ingest_mode_is_a_parameter_the_ingest_task_gets(template, resources, settings):
    from recordings.services.ingest import COPY, REFERENCE

    parameter = template["Parameters"]["RecordingsIngestMode"]
    assert parameter["AllowedValues"] == [COPY, REFERENCE]
    assert parameter["Default"] == COPY == settings.RECORDINGS_INGEST_MODE  # copy stays the default
    assert template["Conditions"]["ReferenceRecordings"] == {
        "Fn::Equals": [{"Ref": "RecordingsIngestMode"}, REFERENCE]
    }
    (container,) = props(resources, "IngestTaskDefinition")["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["LIVESHOP_RECORDINGS_INGEST_MODE"] == {"Ref": "RecordingsIngestMode"}
    assert template["Outputs"]["RecordingsIngestMode"]["Value"] == {"Ref": "RecordingsIngestMode"}


def test_reference_mode_adds_the_recordings_bucket_as_a_second_origin_with_its_own_oac(resources):
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    origin = only_in_reference_mode(config["Origins"][1])
    oac = resources["RecordingsOriginAccessControl"]

    assert origin["Id"] == "ivs-recordings"
    assert origin["DomainName"] == {"Fn::GetAtt": ["RecordingsBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["RecordingsOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert "OriginPath" not in origin  # the request path is the IVS key itself
    assert oac["Condition"] == "ReferenceRecordings"
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"]) == ("s3", "always")
    assert config["SigningProtocol"] == "sigv4"


def test_the_recordings_bucket_lets_only_this_distribution_read_the_recordings(resources):
    policy = props(resources, "RecordingsBucketPolicy")
    statements = policy["PolicyDocument"]["Statement"]
    allow = only_in_reference_mode(statements[0])
    denies = {s["Sid"]: s for s in statements[1:]}

    assert policy["Bucket"] == {"Ref": "RecordingsBucket"}
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/ivs/*"}
    distribution = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CdnDistribution}"
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": distribution}}}
    metadata = denies["DenyCloudFrontTheMetadata"]  # events/*.json is ingestion's, never served
    assert (metadata["Effect"], metadata["Action"]) == ("Deny", "s3:GetObject")
    assert metadata["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/ivs/*/events/*"}
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_zero_copy_replay_is_behind_the_key_group(resources):
    config = props(resources, "CdnDistribution")["DistributionConfig"]
    behavior = only_in_reference_mode(config["CacheBehaviors"][0])

    assert behavior["PathPattern"] == "ivs/*"
    assert behavior["TargetOriginId"] == "ivs-recordings"
    assert behavior["TrustedKeyGroups"] == [{"Ref": "MediaKeyGroup"}]  # public events' replays too
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert set(behavior["AllowedMethods"]) <= {"GET", "HEAD", "OPTIONS"}
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "PrivateMediaCorsPolicy"}  # credentials


@pytest.mark.django_db
def test_the_apps_zero_copy_urls_and_cookies_fall_under_the_ivs_behavior(settings):
    from fnmatch import fnmatch
    from urllib.parse import urlsplit

    from recordings import cdn
    from recordings.models import Recording

    settings.AWS_CLOUDFRONT_DOMAIN = "media.example.com"
    prefix = "ivs/v1/123456789012/AsXego4U6tnj/2024/6/23/20/12/j8Z9O91ndcVs"
    recording = Recording(
        files=Recording.Files.REFERENCED, source_prefix=prefix, master_path=f"{prefix}/media/hls/master.m3u8"
    )
    path = urlsplit(recording.master_url).path.lstrip("/")

    assert fnmatch(path, "ivs/*") and path == recording.master_path  # the key itself, no OriginPath
    assert not fnmatch(path, "*/events/*")
    assert cdn.requires_cookies(recording) and cdn.signs_replay(recording)
    assert cdn.recording_resource(recording) == f"https://media.example.com/{prefix}/*"


def test_zero_copy_replays_are_never_expired_and_need_the_media_domain(template, resources):
    assert template["Conditions"]["ExpireRecordings"]["Fn::And"][1] == {
        "Fn::Not": [{"Condition": "ReferenceRecordings"}]
    }
    rules = props(resources, "RecordingsBucket")["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if isinstance(r, dict) and "Fn::If" in r]
    assert [r["Fn::If"][0] for r in expiring] == ["ExpireRecordings"]
    rule = template["Rules"]["ZeroCopyReplaysNeedTheMediaDomain"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "RecordingsIngestMode"}, "reference"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "MediaDomainName"}, ""]}]}

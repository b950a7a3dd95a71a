"""deploy/cloudformation.yaml's platform half (issue 22), read as CloudFormation reads it: what a
deployer relies on holds. The services run the Procfile's commands from one image, migrations
finish before any new task starts, a failing release rolls back, the balancer keeps websockets
longer than the heartbeat and drains longer than the app's drain, only the balancer reaches the
tasks and only the tasks reach PostgreSQL and Redis, secrets never sit in plain environment
variables, and the DATABASE_URL and REDIS_URL the stack builds are ones the app reads (TLS)."""

from __future__ import annotations

import ast
import json
import re
import sys
import types
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from tests.test_deploy import DATABASE_URL_SECRET, CloudFormationLoader, branches, props

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = ROOT / "deploy" / "cloudformation.yaml"
SERVICES = {
    "WebService": "web",
    "WorkerService": "worker",
    "DiscoveryService": "discovery",
    "BeatService": "beat",
}
DATA_RESOURCES = [
    "DatabaseSecurityGroup",
    "RedisSecurityGroup",
    "DatabaseMasterSecret",
    "DatabaseSubnetGroup",
    "Database",
    "DatabaseSecretAttachment",
    "DatabaseUrlSecret",
    "RedisAuthSecret",
    "RedisSubnetGroup",
    "Redis",
    "RedisUrlSecret",
]
# Names a value must never be passed under in plain text (ECS `secrets` only).
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|REDIS_URL|ENCRYPTION_KEYS|(_KEY$)")


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506 (a SafeLoader)


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]


def containers(resources, task: str) -> dict[str, dict]:
    return {c["Name"]: c for c in props(resources, task)["ContainerDefinitions"]}


def env(container: dict) -> dict:
    return {e["Name"]: e["Value"] for e in branches(container.get("Environment", []))}


def secrets(container: dict) -> dict:
    return {e["Name"]: e["ValueFrom"] for e in branches(container.get("Secrets", []))}


def task_definitions(resources) -> list[str]:
    return [name for name, r in resources.items() if r["Type"] == "AWS::ECS::TaskDefinition"]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): command.strip() for name, _, command in (line.partition(":") for line in lines if line)
    }


# --- Services, migrations, rollback ----------------------------------------------------------------


@pytest.mark.parametrize(("service", "process"), SERVICES.items())
def test_each_service_runs_the_procfiles_command_from_the_one_image(resources, service, process):
    task = props(resources, service)["TaskDefinition"]["Ref"]
    container = containers(resources, task)[process]

    assert container["Image"] == {"Ref": "ImageUri"}
    assert container["Command"] == [procfile()[process]]
    assert props(resources, task)["RequiresCompatibilities"] == ["FARGATE"]


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_starts_before_the_migrations_have_run(resources, service):
    assert "Migrations" in branches(resources[service]["DependsOn"])


def test_migrations_run_the_migrate_task_of_the_new_image_on_every_release(resources):
    migrations = props(resources, "Migrations")
    (migrate,) = containers(resources, "MigrateTaskDefinition").values()

    assert resources["Migrations"]["Type"].startswith("Custom::")
    assert migrations["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    # A new ImageUri is a new task definition revision (a new Ref): the resource updates and runs it.
    assert migrations["TaskDefinition"] == {"Ref": "MigrateTaskDefinition"}
    assert migrate["Image"] == {"Ref": "ImageUri"}
    assert migrate["Command"] == ["docker/release"]
    release = (ROOT / "docker" / "release").read_text()
    assert "python manage.py migrate --noinput\n" in release  # first; errexit stops the release on failure
    assert "set -o errexit" in release
    assert secrets(migrate)["DATABASE_URL"] == DATABASE_URL_SECRET
    assert props(resources, "MigrateFunction")["Timeout"] <= migrations["ServiceTimeout"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_release_whose_tasks_keep_failing_rolls_back_by_itself(resources, service):
    config = props(resources, service)["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_web_and_workers_start_new_tasks_before_stopping_old_ones_and_beat_never_runs_twice(resources):
    for service in ("WebService", "WorkerService", "DiscoveryService"):
        config = props(resources, service)["DeploymentConfiguration"]
        assert (config["MinimumHealthyPercent"], config["MaximumPercent"]) == (100, 200)
    beat = props(resources, "BeatService")
    assert beat["DesiredCount"] == 1
    assert beat["DeploymentConfiguration"]["MaximumPercent"] == 100


# The custom resource's function, run here: botocore's Stubber stands in for ECS.


@pytest.fixture
def migrate_function(resources, monkeypatch):
    """The function's inline code as a module, with a cfnresponse that records the answer."""
    answers = []
    cfnresponse = types.SimpleNamespace(SUCCESS="SUCCESS", FAILED="FAILED")
    cfnresponse.send = lambda event, context, status, data, physical_id, reason=None: answers.append(
        {"status": status, "data": data, "id": physical_id, "reason": reason}
    )
    monkeypatch.setitem(sys.modules, "cfnresponse", cfnresponse)
    module = types.ModuleType("migrate_function")
    exec(props(resources, "MigrateFunction")["Code"]["ZipFile"], module.__dict__)  # noqa: S102 (our template)
    module.POLL = 0
    module.time = types.SimpleNamespace(sleep=lambda seconds: None)
    return module, answers


class Context:
    def get_remaining_time_in_millis(self):
        return 600_000


PROPS = {
    "Cluster": "liveshop",
    "TaskDefinition": "arn:aws:ecs:us-west-2:123456789012:task-definition/liveshop-migrate:7",
    "Subnets": ["subnet-a", "subnet-b"],
    "SecurityGroups": ["sg-app"],
    "AssignPublicIp": "DISABLED",
}
TASK = "arn:aws:ecs:us-west-2:123456789012:task/liveshop/abc"


def ecs_running_migrate(exit_code: int):
    ecs = boto3.client("ecs", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ecs)
    stub.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK}], "failures": []},
        {
            "cluster": "liveshop",
            "taskDefinition": PROPS["TaskDefinition"],
            "launchType": "FARGATE",
            "count": 1,
            "startedBy": "cloudformation-migrations",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-a", "subnet-b"],
                    "securityGroups": ["sg-app"],
                    "assignPublicIp": "DISABLED",
                }
            },
        },
    )
    running = {"tasks": [{"taskArn": TASK, "lastStatus": "RUNNING", "containers": [{"name": "migrate"}]}]}
    stopped = {
        "tasks": [
            {
                "taskArn": TASK,
                "lastStatus": "STOPPED",
                "stoppedReason": "Essential container in task exited",
                "containers": [{"name": "migrate", "exitCode": exit_code}],
            }
        ]
    }
    stub.add_response("describe_tasks", running, {"cluster": "liveshop", "tasks": [TASK]})
    stub.add_response("describe_tasks", stopped, {"cluster": "liveshop", "tasks": [TASK]})
    stub.activate()
    return ecs, stub


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_the_release_goes_on_once_migrate_has_exited_zero(migrate_function, request_type):
    module, answers = migrate_function
    ecs, stub = ecs_running_migrate(0)

    module.handler({"RequestType": request_type, "ResourceProperties": PROPS}, Context(), ecs=ecs)

    stub.assert_no_pending_responses()
    assert answers == [{"status": "SUCCESS", "data": {"TaskArn": TASK}, "id": "migrations", "reason": None}]


def test_a_failed_migration_fails_the_update_so_the_old_release_keeps_serving(migrate_function):
    module, answers = migrate_function
    ecs, stub = ecs_running_migrate(1)

    module.handler(
        {"RequestType": "Update", "PhysicalResourceId": "migrations", "ResourceProperties": PROPS},
        Context(),
        ecs=ecs,
    )

    stub.assert_no_pending_responses()
    (answer,) = answers
    assert answer["status"] == "FAILED"
    assert "migrate exited with 1" in answer["reason"]
    assert "migrate/" in answer["reason"]  # where its log is


def test_deleting_the_stack_runs_nothing(migrate_function):
    module, answers = migrate_function
    module.handler(
        {"RequestType": "Delete", "PhysicalResourceId": "migrations", "ResourceProperties": PROPS},
        Context(),
        ecs=object(),
    )
    assert answers[0]["status"] == "SUCCESS"


# --- The load balancer and the drain -----------------------------------------------------------------


def test_https_with_the_certificate_parameter_and_http_only_redirects(resources):
    https = props(resources, "HttpsListener")
    http = props(resources, "HttpListener")

    assert (https["Protocol"], https["Port"]) == ("HTTPS", 443)
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "WebTargetGroup"}}]
    (redirect,) = http["DefaultActions"]
    assert redirect["Type"] == "redirect" and redirect["RedirectConfig"]["Protocol"] == "HTTPS"


def test_health_checks_ask_healthz_which_exists_and_skips_the_https_redirect(resources, settings):
    from django.urls import reverse

    group = props(resources, "WebTargetGroup")
    assert group["HealthCheckPath"] == reverse("healthz") == "/healthz/"
    assert group["Port"] == 8000 and group["TargetType"] == "ip"
    assert group["Matcher"] == {"HttpCode": "200"}
    assert props(resources, "WebService")["HealthCheckGracePeriodSeconds"] > 0
    # The balancer checks over plain HTTP: production's HTTPS redirect spares /healthz/.
    (exempt,) = re.findall(
        r"SECURE_REDIRECT_EXEMPT = (\[.*\])", (ROOT / "liveshop" / "settings" / "base.py").read_text()
    )
    assert any(re.search(pattern, "healthz/") for pattern in ast.literal_eval(exempt))


def test_an_idle_viewers_socket_outlives_the_heartbeat(template, resources, settings):
    idle = template["Parameters"]["LoadBalancerIdleTimeout"]
    (attribute,) = [
        a
        for a in props(resources, "LoadBalancer")["LoadBalancerAttributes"]
        if a["Key"] == "idle_timeout.timeout_seconds"
    ]
    heartbeat = float(env(containers(resources, "WebTaskDefinition")["web"])["LIVESHOP_WS_HEARTBEAT_SECONDS"])

    assert attribute["Value"] == {"Ref": "LoadBalancerIdleTimeout"}
    assert heartbeat == settings.LIVESHOP_WS_HEARTBEAT_SECONDS
    assert idle["MinValue"] >= 2 * heartbeat  # even the shortest allowed timeout


def test_the_balancer_waits_out_the_apps_drain_before_ecs_stops_the_task(template, resources):
    group = props(resources, "WebTargetGroup")
    (delay,) = [
        a["Value"]
        for a in group["TargetGroupAttributes"]
        if a["Key"] == "deregistration_delay.timeout_seconds"
    ]
    web = containers(resources, "WebTaskDefinition")["web"]
    drain = template["Parameters"]["DrainSeconds"]

    assert env(web)["LIVESHOP_DRAIN_SECONDS"] == {"Ref": "DrainSeconds"}
    assert delay == {"Fn::FindInMap": ["DrainTimes", {"Ref": "DrainSeconds"}, "DeregistrationDelay"]}
    for seconds in drain["AllowedValues"]:
        deregistration = int(template["Mappings"]["DrainTimes"][seconds]["DeregistrationDelay"])
        assert deregistration >= int(seconds) + 10  # the last frames' pages have moved by then
        assert web["StopTimeout"] >= int(seconds)  # a drain SIGTERM starts fits before SIGKILL
    assert web["StopTimeout"] <= 120  # Fargate's limit


def test_forwarded_headers_are_believed_from_the_vpc_only_and_only_the_balancer_reaches_web(
    template, resources
):
    web = containers(resources, "WebTaskDefinition")["web"]
    (rule,) = props(resources, "AppSecurityGroup")["SecurityGroupIngress"]

    assert env(web)["LIVESHOP_TRUSTED_PROXIES"] == {"Ref": "VpcCidr"}
    assert "*" not in json.dumps(env(web)["LIVESHOP_TRUSTED_PROXIES"])
    assert rule == {
        "IpProtocol": "tcp",
        "FromPort": 8000,
        "ToPort": 8000,
        "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
        "Description": "the load balancer to the web tasks",
    }
    assert '--forwarded-allow-ips="${LIVESHOP_TRUSTED_PROXIES' in (ROOT / "docker" / "start-web").read_text()


# --- Network, data services and secrets ----------------------------------------------------------------


def test_nothing_but_the_balancer_is_open_to_the_internet(resources):
    for name, resource in resources.items():
        if resource["Type"] != "AWS::EC2::SecurityGroup":
            continue
        for rule in resource["Properties"].get("SecurityGroupIngress", []):
            if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                assert name == "LoadBalancerSecurityGroup", name
                assert rule["FromPort"] in (80, 443), rule


@pytest.mark.parametrize(("group", "port"), [("DatabaseSecurityGroup", 5432), ("RedisSecurityGroup", 6379)])
def test_postgresql_and_redis_admit_the_apps_tasks_only(resources, group, port):
    (rule,) = props(resources, group)["SecurityGroupIngress"]
    assert rule["SourceSecurityGroupId"] == {"Ref": "AppSecurityGroup"}
    assert (rule["FromPort"], rule["ToPort"]) == (port, port)
    assert "CidrIp" not in rule and "CidrIpv6" not in rule


def test_every_task_runs_in_the_private_subnets_in_the_apps_security_group(resources):
    for service in SERVICES:
        network = props(resources, service)["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["Subnets"] == {"Ref": "SubnetIds"}
        assert {"Ref": "AppSecurityGroup"} in branches(network["SecurityGroups"])
    assert {"Ref": "AppSecurityGroup"} in branches(props(resources, "Migrations")["SecurityGroups"])


def test_all_in_creates_the_data_services_and_bring_your_own_needs_their_urls(template, resources):
    assert template["Parameters"]["DataServices"]["AllowedValues"] == ["all-in", "bring-your-own"]
    for name in DATA_RESOURCES:
        assert resources[name]["Condition"] == "AllIn", name
    rule = template["Rules"]["BringYourOwnNeedsTheUrls"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "DataServices"}, "bring-your-own"]}
    asserted = json.dumps(rule["Assertions"])
    assert "DatabaseUrlSecretArn" in asserted and "RedisUrlSecretArn" in asserted


def test_the_database_is_private_encrypted_snapshotted_and_its_password_a_secret(resources):
    db = resources["Database"]
    p = db["Properties"]

    assert (db["DeletionPolicy"], db["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    assert p["Engine"] == "postgres"
    assert p["PubliclyAccessible"] is False and p["StorageEncrypted"] is True
    assert p["MultiAZ"] == {"Fn::If": ["DatabaseMultiAz", True, False]}
    assert p["MasterUserPassword"]["Fn::Sub"].startswith("{{resolve:secretsmanager:${DatabaseMasterSecret}:")
    generated = props(resources, "DatabaseMasterSecret")["GenerateSecretString"]
    assert generated["ExcludePunctuation"] is True  # it sits in DATABASE_URL unescaped


def test_redis_has_tls_in_transit_and_an_auth_token_from_a_secret(resources):
    p = props(resources, "Redis")
    assert p["TransitEncryptionEnabled"] is True and p["AtRestEncryptionEnabled"] is True
    assert p["AuthToken"] == {"Fn::Sub": "{{resolve:secretsmanager:${RedisAuthSecret}:SecretString}}"}
    assert props(resources, "RedisAuthSecret")["GenerateSecretString"]["ExcludePunctuation"] is True


def stack_url(resources, secret: str, values: dict[str, str]) -> str:
    """The URL a secret of the stack holds, its ${...} and dynamic references filled in."""
    text = props(resources, secret)["SecretString"]["Fn::Sub"]
    text = re.sub(r"\{\{resolve:secretsmanager:\$\{(\w+)\}[^}]*\}\}", lambda m: values[m[1]], text)
    return re.sub(r"\$\{([\w.]+)\}", lambda m: values[m[1]], text)


def test_the_redis_url_the_stack_builds_is_rediss_and_every_client_checks_the_certificate(resources):
    from redis.asyncio import ConnectionPool as AsyncPool
    from redis.connection import ConnectionPool, SSLConnection

    from tests.test_settings import run_django

    token = "A" * 64
    url = stack_url(
        resources,
        "RedisUrlSecret",
        {
            "RedisAuthSecret": token,
            "Redis.PrimaryEndPoint.Address": "master.liveshop.abc123.usw2.cache.amazonaws.com",
            "Redis.PrimaryEndPoint.Port": "6379",
        },
    )

    assert url == f"rediss://:{token}@master.liveshop.abc123.usw2.cache.amazonaws.com:6379/0"
    pool = ConnectionPool.from_url(url)
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["password"] == token
    assert AsyncPool.from_url(url).connection_class.__name__ == "SSLConnection"  # the realtime hub's
    probe = (
        "import json, django, ssl; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CELERY_BROKER_USE_SSL['ssl_cert_reqs'] == ssl.CERT_REQUIRED, "
        "settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'], settings.CACHES['default']['LOCATION']]))"
    )
    result = run_django(probe, {"REDIS_URL": url, "LIVESHOP_REDIS_TLS": "required"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [True, [url], url]


def test_the_database_url_the_stack_builds_is_postgresql_over_tls(resources):
    import environ

    url = stack_url(
        resources,
        "DatabaseUrlSecret",
        {
            "DatabaseMasterSecret": "p4ssw0rd",
            "Database.Endpoint.Address": "db.example.internal",
            "Database.Endpoint.Port": "5432",
        },
    )
    config = environ.Env.db_url_config(url)

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["NAME"]) == (
        "liveshop",
        "p4ssw0rd",
        "db.example.internal",
        "liveshop",
    )
    assert config["OPTIONS"]["sslmode"] == "require"


def test_secrets_reach_the_tasks_as_ecs_secrets_never_in_plain_environment(resources):
    for task in task_definitions(resources):
        for name, container in containers(resources, task).items():
            plain = [n for n in env(container) if SECRET_NAMES.search(n)]
            assert plain == [], (task, name, plain)
            for value in secrets(container).values():
                assert "Secret" in json.dumps(value), (task, name, value)  # an ARN of Secrets Manager
    web = secrets(containers(resources, "WebTaskDefinition")["web"])
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LIVESHOP_WEBHOOK_SECRET"} <= set(web)
    assert "LIVESHOP_REDIS_TLS" in env(containers(resources, "WebTaskDefinition")["web"])


def test_every_container_logs_to_cloudwatch_under_its_own_prefix(resources):
    prefixes = []
    for task in task_definitions(resources):
        for container in containers(resources, task).values():
            logs = container["LogConfiguration"]
            assert logs["LogDriver"] == "awslogs"
            assert logs["Options"]["awslogs-group"] == {"Ref": "LogGroup"}
            prefixes.append(logs["Options"]["awslogs-stream-prefix"])
    assert len(prefixes) == len(set(prefixes))


# --- Autoscaling ------------------------------------------------------------------------------------


def test_web_scales_on_cpu_and_on_active_connections_per_healthy_task(resources):
    cpu = props(resources, "WebCpuScaling")["TargetTrackingScalingPolicyConfiguration"]
    connections = props(resources, "WebConnectionScaling")["TargetTrackingScalingPolicyConfiguration"]
    metrics = {m["Id"]: m for m in connections["CustomizedMetricSpecification"]["Metrics"]}

    assert cpu["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert connections["TargetValue"] == {"Ref": "WebConnectionsPerTask"}
    assert metrics["connections"]["MetricStat"]["Metric"]["MetricName"] == "ActiveConnectionCount"
    assert metrics["tasks"]["MetricStat"]["Metric"]["MetricName"] == "HealthyHostCount"
    (returned,) = [m for m in metrics.values() if m["ReturnData"]]
    assert "connections" in returned["Expression"] and "tasks" in returned["Expression"]
    for policy in ("WebCpuScaling", "WebConnectionScaling"):
        assert props(resources, policy)["ScalingTargetId"] == {"Ref": "WebScalableTarget"}
    assert "${WebService.Name}" in props(resources, "WebScalableTarget")["ResourceId"]["Fn::Sub"][0]


def test_workers_scale_on_the_default_queues_depth_which_beat_measures(resources):
    from liveshop import metrics
    from liveshop.celery import app, measured_queues

    # Beat's QueueReporter measures it (liveshop/tests/test_metrics.py).
    assert app.conf.task_default_queue in measured_queues()
    assert [c["Name"] for c in containers(resources, "BeatTaskDefinition").values()] == ["beat"]
    for alarm, policy in (("QueueBacklogAlarm", "WorkerScaleOut"), ("QueueIdleAlarm", "WorkerScaleIn")):
        p = props(resources, alarm)
        assert (p["Namespace"], p["MetricName"]) == (metrics.NAMESPACE, metrics.QUEUE_DEPTH)
        assert p["Dimensions"] == [
            {"Name": metrics.STACK, "Value": {"Ref": "AWS::StackName"}},
            {"Name": metrics.QUEUE, "Value": app.conf.task_default_queue},
        ]
        assert p["AlarmActions"] == [{"Ref": policy}]
        assert props(resources, policy)["ScalingTargetId"] == {"Ref": "WorkerScalableTarget"}
    # EMF lines in the log: no CloudWatch API call, so beat needs no task role at all.
    assert "TaskRoleArn" not in props(resources, "BeatTaskDefinition")


def test_discovery_scales_out_when_a_show_waits_and_in_only_when_no_show_is_live(resources, settings):
    from liveshop import metrics

    backlog, quiet = props(resources, "DiscoveryBacklogAlarm"), props(resources, "NoLiveShowsAlarm")
    assert (backlog["Namespace"], backlog["MetricName"]) == (metrics.NAMESPACE, metrics.QUEUE_DEPTH)
    assert {"Name": metrics.QUEUE, "Value": settings.DISCOVERY_QUEUE} in backlog["Dimensions"]
    assert (backlog["Threshold"], backlog["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert backlog["AlarmActions"] == [{"Ref": "DiscoveryScaleOut"}]
    # A stopped task's samplers hand over (a gap), a killed one's are lost: scale in with none live.
    assert (quiet["Namespace"], quiet["MetricName"]) == (metrics.NAMESPACE, metrics.LIVE_EVENTS)
    assert (quiet["Threshold"], quiet["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert quiet["Period"] * quiet["EvaluationPeriods"] >= 30 * 60
    assert quiet["AlarmActions"] == [{"Ref": "DiscoveryScaleIn"}]
    scale_in = props(resources, "DiscoveryScaleIn")["StepScalingPolicyConfiguration"]
    assert scale_in["AdjustmentType"] == "ExactCapacity"
    assert [s["ScalingAdjustment"] for s in scale_in["StepAdjustments"]] == [{"Ref": "DiscoveryMinCount"}]
    for policy in ("DiscoveryScaleOut", "DiscoveryScaleIn"):
        assert props(resources, policy)["ScalingTargetId"] == {"Ref": "DiscoveryScalableTarget"}
    assert (
        "${DiscoveryService.Name}" in props(resources, "DiscoveryScalableTarget")["ResourceId"]["Fn::Sub"][0]
    )
    (sampler,) = containers(resources, "DiscoveryTaskDefinition").values()
    assert env(sampler)["LIVESHOP_DISCOVERY_SAMPLERS"] == {"Ref": "DiscoverySamplersPerTask"}
    assert "LIVESHOP_DISCOVERY_SAMPLERS" in (ROOT / "docker" / "start-discovery-worker").read_text()


# --- deploy/deploy.sh ---------------------------------------------------------------------------------


FAKE_TOOL = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
case "$*" in
  *"OutputKey=='ClusterArn'"*) echo arn:aws:ecs:us-west-2:123456789012:cluster/liveshop-prod ;;
  *"OutputKey=='WebServiceName'"*) echo liveshop-prod-web ;;
  *"OutputKey=='WorkerServiceName'"*) echo liveshop-prod-worker ;;
  *"OutputKey=='DiscoveryServiceName'"*) echo liveshop-prod-discovery ;;
  *"OutputKey=='BeatServiceName'"*) echo liveshop-prod-beat ;;
  *get-login-password*) echo token ;;
  *--password-stdin*) cat > /dev/null ;;
esac
"""


def test_deploy_script_pushes_the_image_then_updates_the_stack_with_it_then_waits_for_the_services(tmp_path):
    import os
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "aws"):
        (bin_dir / tool).write_text(FAKE_TOOL)
        (bin_dir / tool).chmod(0o755)
    calls = tmp_path / "calls"
    repository = "123456789012.dkr.ecr.us-west-2.amazonaws.com/liveshop"
    result = subprocess.run(
        [str(ROOT / "deploy" / "deploy.sh"), "liveshop-prod", repository, "r42", "--", "WebMinCount=3"],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    lines = calls.read_text().splitlines()
    image = f"{repository}:r42"
    build = lines.index(f"docker build -f docker/Dockerfile -t {image} .")
    push = lines.index(f"docker push {image}")
    (deploy,) = [i for i, line in enumerate(lines) if line.startswith("aws cloudformation deploy")]
    (wait,) = [i for i, line in enumerate(lines) if line.startswith("aws ecs wait services-stable")]
    assert build < push < deploy < wait
    assert "--stack-name liveshop-prod" in lines[deploy] and "--region us-west-2" in lines[deploy]
    assert f"--parameter-overrides ImageUri={image} WebMinCount=3" in lines[deploy]
    services = "liveshop-prod-web liveshop-prod-worker liveshop-prod-discovery liveshop-prod-beat"
    assert lines[wait].endswith(f"--services {services}")


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [("Web5xxAlarm", "HTTPCode_Target_5XX_Count"), ("WebLatencyAlarm", "TargetResponseTime")],
)
def test_errors_and_slow_answers_of_the_web_tasks_alert_the_topic(resources, alarm, metric):
    p = props(resources, alarm)
    assert (p["Namespace"], p["MetricName"]) == ("AWS/ApplicationELB", metric)
    assert {"Name": "TargetGroup", "Value": {"Fn::GetAtt": ["WebTargetGroup", "TargetGroupFullName"]}} in p[
        "Dimensions"
    ]
    assert p["AlarmActions"] == {
        "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }

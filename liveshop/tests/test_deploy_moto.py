"""deploy/cloudformation.yaml deployed into moto's CloudFormation (issue 22): the stack is created
where moto models the resource types, every reference among those resolves (moto creates each
resource from the values it resolved: an unknown Ref, attribute or parameter fails the stack),
and every output exists. moto cannot create the types in MOTO_LACKS: they are taken out before
the deploy and checked by cfn-lint only (tests/test_deploy.py); what referred to one gets a
placeholder ARN naming it. No network: moto answers in this process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.cloudformation.parsing import get_model_map

from tests.test_deploy import CloudFormationLoader

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = ROOT / "deploy" / "cloudformation.yaml"
REGION = "us-east-1"

# The template's resource types moto 5 has no CloudFormation model for (cfn-lint checks them).
MOTO_LACKS = {
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::KeyGroup",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::PublicKey",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::Events::ApiDestination",
    "AWS::Events::Connection",
    "AWS::IVS::RecordingConfiguration",
    "AWS::IVSChat::LoggingConfiguration",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "Custom::Migrations",  # its Lambda would run the image's migrations (Docker)
}
# Attributes of modelled types that moto does not answer.
MOTO_LACKS_ATTRIBUTES = {
    ("AWS::RDS::DBInstance", "Endpoint.Address"),
    ("AWS::RDS::DBInstance", "Endpoint.Port"),
}
PLACEHOLDER = "arn:aws:moto-lacks:us-east-1:123456789012:"
PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"


def load() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # noqa: S506 (SafeLoader's subclass)


def deployable(template: dict) -> dict:
    """``template`` without the resources moto cannot create, every reference to one (Ref,
    GetAtt, ${...} in Sub, DependsOn) replaced by a placeholder ARN naming it."""
    resources = template["Resources"]
    types = {name: resource["Type"] for name, resource in resources.items()}
    gone = {name for name, kind in types.items() if kind in MOTO_LACKS}

    def lacking(name: str, attribute: str | None = None) -> bool:
        return name in gone or (types.get(name), attribute) in MOTO_LACKS_ATTRIBUTES

    def placeholder(reference: str) -> str:
        return PLACEHOLDER + re.sub(r"[^A-Za-z0-9]+", "-", reference)

    def sub(match: re.Match) -> str:
        name, _, attribute = match.group(1).partition(".")
        return placeholder(match.group(1)) if lacking(name, attribute or None) else match.group(0)

    def strip(node):
        if isinstance(node, list):
            return [strip(item) for item in node]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Ref"] and node["Ref"] in gone:
            return placeholder(node["Ref"])
        if list(node) == ["Fn::GetAtt"]:
            name, attribute = node["Fn::GetAtt"]
            if lacking(name, attribute):
                return placeholder(f"{name}.{attribute}")
        if list(node) == ["Fn::Sub"]:
            value = node["Fn::Sub"]
            text, variables = (value, None) if isinstance(value, str) else value
            text = re.sub(r"\$\{([A-Za-z0-9.]+)\}", sub, text)
            return {"Fn::Sub": text if variables is None else [text, strip(variables)]}
        return {key: strip(value) for key, value in node.items()}

    kept = {}
    for name, resource in resources.items():
        if name in gone:
            continue
        resource = strip(resource)
        if "DependsOn" in resource:
            after = resource["DependsOn"]
            after = [other for other in ([after] if isinstance(after, str) else after) if other not in gone]
            resource["DependsOn"] = after
            if not after:
                del resource["DependsOn"]
        kept[name] = resource
    return {**template, "Resources": kept, **{key: strip(template[key]) for key in ("Conditions", "Outputs")}}


def unresolved(value) -> list[str]:
    """Intrinsic functions left in a value moto created a resource from (none may be)."""
    text = json.dumps(value, default=str)
    return re.findall(r'"(?:Ref|Fn::[A-Za-z]+)"', text)


@pytest.fixture
def aws():
    """moto's AWS with what the stack's parameters name: a VPC with four subnets in two zones'
    pairs, the ACM certificate, and the app's three secrets."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
                "Subnet"
            ]["SubnetId"]
            for n, zone in enumerate("abab")
        ]
        secrets = boto3.client("secretsmanager", region_name=REGION)
        certificate = boto3.client("acm", region_name=REGION).request_certificate(
            DomainName="shop.example.com"
        )
        parameters = {
            "AppUrl": "https://shop.example.com",
            "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/liveshop:1",
            "VpcId": vpc,
            "VpcCidr": "10.0.0.0/16",
            "SubnetIds": ",".join(subnets[:2]),
            "PublicSubnetIds": ",".join(subnets[2:]),
            "CertificateArn": certificate["CertificateArn"],
            "MediaSigningPublicKey": PUBLIC_KEY,
            **{
                name: secrets.create_secret(Name=name, SecretString="s" * 50)["ARN"]
                for name in ("WebhookSecretArn", "DjangoSecretKeyArn", "EncryptionKeysSecretArn")
            },
        }
        yield parameters, secrets


def deploy(parameters: dict) -> dict:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName="liveshop",
        TemplateBody=json.dumps(deployable(load())),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="liveshop")["Stacks"][0]
    resources = cloudformation.list_stack_resources(StackName="liveshop")["StackResourceSummaries"]
    return {
        "status": stack["StackStatus"],
        "outputs": {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])},
        # (moto also lists one blank summary, of no resource: left out)
        "resources": {r["LogicalResourceId"]: r for r in resources if r["LogicalResourceId"]},
    }


def test_moto_lacks_exactly_the_listed_types():
    """The list above is what moto lacks among the template's types: a new type, or a type moto
    learns, shows here first."""
    types = {resource["Type"] for resource in load()["Resources"].values()}
    modelled = set(get_model_map())
    assert {kind for kind in types if kind not in modelled} == MOTO_LACKS


def test_the_stack_deploys_into_moto_with_every_reference_resolved_and_every_output(aws):
    parameters, _ = aws
    template = load()

    stack = deploy(parameters)

    assert stack["status"] == "CREATE_COMPLETE"
    kept = deployable(template)["Resources"]
    unconditional = {name for name, resource in kept.items() if "Condition" not in resource}
    assert unconditional <= set(stack["resources"]) <= set(kept) and len(stack["resources"]) >= 30
    assert {r["ResourceStatus"] for r in stack["resources"].values()} == {"CREATE_COMPLETE"}
    assert set(stack["outputs"]) == set(template["Outputs"])
    assert not [key for key, value in stack["outputs"].items() if unresolved(value)]

    # What was created is wired as the template says: four services on the cluster, each running
    # a task definition that exists, every value resolved; the web tasks' target group (health
    # checked on /healthz/) on the balancer, whose HTTPS listener carries the certificate.
    ecs, elb = boto3.client("ecs", region_name=REGION), boto3.client("elbv2", region_name=REGION)
    cluster = stack["resources"]["Cluster"]["PhysicalResourceId"]
    services = ecs.describe_services(
        cluster=cluster, services=ecs.list_services(cluster=cluster)["serviceArns"]
    )
    names = {service["serviceName"].split("-")[1]: service for service in services["services"]}
    assert set(names) == {"WebService", "WorkerService", "DiscoveryService", "BeatService"}
    for service in names.values():
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert definition["containerDefinitions"][0]["image"] == parameters["ImageUri"]
        assert unresolved(definition) == [], service["serviceName"]
    target = stack["resources"]["WebTargetGroup"]["PhysicalResourceId"]
    groups = elb.describe_target_groups(TargetGroupArns=[target])["TargetGroups"]
    assert groups[0]["HealthCheckPath"] == "/healthz/"
    listeners = elb.describe_listeners(LoadBalancerArn=groups[0]["LoadBalancerArns"][0])["Listeners"]
    https = [listener for listener in listeners if listener["Protocol"] == "HTTPS"]
    assert [c["CertificateArn"] for c in https[0]["Certificates"]] == [parameters["CertificateArn"]]


def test_bring_your_own_data_services_deploy_without_a_database_or_redis(aws):
    parameters, secrets = aws
    parameters = {
        **parameters,
        "DataServices": "bring-your-own",
        "DatabaseUrlSecretArn": secrets.create_secret(Name="db-url", SecretString="postgres://x")["ARN"],
        "RedisUrlSecretArn": secrets.create_secret(Name="redis-url", SecretString="rediss://x")["ARN"],
    }

    stack = deploy(parameters)

    assert stack["status"] == "CREATE_COMPLETE"
    created = {resource["ResourceType"] for resource in stack["resources"].values()}
    assert "AWS::RDS::DBInstance" not in created and "AWS::ECS::Service" in created
    assert boto3.client("rds", region_name=REGION).describe_db_instances()["DBInstances"] == []

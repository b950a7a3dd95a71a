#!/usr/bin/env bash
# A release of Liveshop on AWS (deploy/README.md): build the image, push it to ECR, update the
# stack with it, wait for the services. The stack does the ordering: its Migrations custom
# resource runs `manage.py migrate` with the new image to the end before any service changes (a
# failed migration fails the update and CloudFormation rolls back: the old tasks never stopped);
# then ECS replaces the tasks one by one, each old web task draining its viewers to the new ones,
# and the circuit breaker rolls back a release whose tasks keep failing their health checks.
#
#   deploy/deploy.sh STACK REPOSITORY_URI [TAG] [-- extra `cloudformation deploy` arguments]
#
# TAG defaults to the current git commit. The first deploy passes every required parameter after
# `--` (see deploy/README.md); later ones reuse the stack's values and change ImageUri only.
# Needs docker and the AWS CLI v2, with credentials for the stack's account and region.
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
stack="$1" repository="$2"
shift 2
tag="$(git rev-parse --short=12 HEAD)"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then tag="$1"; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
image="$repository:$tag"
registry="${repository%%/*}"
region="$(echo "$registry" | cut -d. -f4)"

echo "==> Building $image"
docker build -f docker/Dockerfile -t "$image" .
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker push "$image"

# `cloudformation deploy` keeps every parameter not given here at the stack's current value. It
# returns once the services are stable, or fails (and the stack rolls back) if migrations or the
# new tasks fail.
echo "==> Updating $stack (migrations run first, then the services roll)"
aws cloudformation deploy --region "$region" --stack-name "$stack" \
  --template-file deploy/cloudformation.yaml --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset --parameter-overrides "ImageUri=$image" "$@"

cluster="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='ClusterArn'].OutputValue" --output text)"
services=()
for output in WebServiceName WorkerServiceName DiscoveryServiceName BeatServiceName; do
  services+=("$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$output'].OutputValue" --output text)")
done
echo "==> Waiting for ${services[*]} to be stable on $image"
aws ecs wait services-stable --region "$region" --cluster "$cluster" --services "${services[@]}"
echo "==> Released $image"

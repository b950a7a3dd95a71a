"""Publish the Celery queue's depth to CloudWatch once a minute: the worker service scales on it.

Runs beside beat in the beat task (deploy/cloudformation.yaml, container ``queue-metrics``, same
image): ``python deploy/queue_metrics.py``. It reads the broker (CELERY_BROKER_URL, else REDIS_URL;
rediss:// works, the certificate checked as redis-py does) and puts ``Liveshop/CeleryQueueDepth``
(dimension ``Stack`` = LIVESHOP_METRICS_STACK) with the number of messages waiting. Kombu's Redis
transport keeps a queue as a list under its name, plus one list per priority step.
"""

from __future__ import annotations

import logging
import os
import time

NAMESPACE = "Liveshop"
METRIC = "CeleryQueueDepth"
INTERVAL = 60.0
PRIORITY_SEPARATOR = "\x06\x16"  # kombu.transport.redis: "<queue>\x06\x16<step>"
PRIORITY_STEPS = (3, 6, 9)  # kombu's default steps besides 0 (which is the bare queue name)

logger = logging.getLogger("queue_metrics")


def queue_depth(client, queue: str = "celery") -> int:
    """Messages waiting in ``queue`` (every priority step), not those a worker has taken."""
    keys = [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
        return sum(pipe.execute())


def publish(cloudwatch, stack: str, depth: int) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": METRIC,
                "Dimensions": [{"Name": "Stack", "Value": stack}],
                "Value": depth,
                "Unit": "Count",
            }
        ],
    )


def main() -> None:  # pragma: no cover (the loop; its parts are tested)
    import boto3
    import redis

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    url = os.environ.get("CELERY_BROKER_URL") or os.environ["REDIS_URL"]
    stack = os.environ["LIVESHOP_METRICS_STACK"]
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    cloudwatch = boto3.client("cloudwatch")
    while True:
        started = time.monotonic()
        try:
            publish(cloudwatch, stack, queue_depth(client))
        except Exception:  # Redis failing over, CloudWatch throttling: the next minute tries again
            logger.warning("Could not publish the queue depth", exc_info=True)
        time.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))


if __name__ == "__main__":
    main()

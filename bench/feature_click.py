"""Host click -> the PutMetadata request leaving Liveshop: how long does the in-band cue take?

    .venv/bin/python bench/feature_click.py [--clicks 40] [--interval 0.3] [--mode auto|http|service]

Boto3 is pointed (IVS_ENDPOINT_URL) at a stand-in for Amazon IVS in its own process
(bench/_common.py ivs-stub: PutMetadata -> 204, each request's arrival time recorded on the
monotonic clock shared by every process). VIDEO_BACKEND=ivs, IVS_REGION=us-west-2, dummy AWS
credentials; the event is live on an IVS channel ARN; production settings (DJANGO_DEBUG=false),
PostgreSQL (scratch database) and Redis (the cue rate limiter is the real Redis one).

Modes:
  http     (auto when ``events:feature`` exists) the console's request: a POST to
           /studio/events/<slug>/feature/ on the production ASGI command (uvicorn, pinned to
           --server-cpu), sent as console.js sends it (multipart form, X-CSRFToken, Accept JSON,
           a logged-in host's session), over a keep-alive connection from this process;
  service  the fallback when the view does not exist yet: ``feature_product`` called here, the way
           the view calls it (the cue goes out after commit from the cue thread pool).
  inprocess  CPU per click, for a loaded machine: the same POST through the full
           ``liveshop.asgi.application`` driven by a fake ASGI client in this process (session,
           CSRF, database, Redis), the cue's dispatch replaced by a stub that notes the moment.
           Prints one JSON line: CPU time (all threads) per request and up to the cue's dispatch
           (p50), wall times, statements per request and before the cue. ``--tree DIR`` runs
           another checkout's code (``git archive`` of the commit to compare) with this venv:
           alternate the two trees' runs and compare medians.
Measured per click: from just before the request is sent to the PutMetadata request's arrival at
the stand-in (loopback: that is when it left the process). Clicks alternate two products and are
--interval apart (>= 250 ms keeps IVS's 5 calls/s per channel from throttling). The first click
after the server starts is reported on its own, not in the percentiles: it pays the process's
first-request work (URL patterns, database and Redis connections; the boto3 client is built at
start-up, events.timed_metadata.warm_up).
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

GOAL_P99_MS = 25  # issue 13 (was 50)

# --trace: uvicorn serves this wrapper instead of liveshop.asgi:application. It wraps the steps of
# the click (the view, the service, the cue thread's steps, the boto3 call) to log when each
# started and ended on the monotonic clock, so the click's time can be split between them.
TRACE_MODULE = """
import functools, os, threading, time

from liveshop.asgi import application  # sets Django up

from events import timed_metadata, services
from events.views import studio as views
from liveshop.video import ivs

_log = open(os.environ["BENCH_TRACE_FILE"], "a", buffering=1)


def _traced(name, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            thread = threading.current_thread().name
            _log.write("%s %.6f %.6f %s\\n" % (name, start, time.monotonic(), thread))

    return wrapper


views.ProductFeatureView.post = _traced("view", views.ProductFeatureView.post)
views.FeatureForm.is_valid = _traced("form", views.FeatureForm.is_valid)
views._event_or_404 = _traced("event_lookup", views._event_or_404)
views._console_highlight = _traced("response_payload", views._console_highlight)
services.feature_product = _traced("service", services.feature_product)
timed_metadata.dispatch = _traced("dispatch", timed_metadata.dispatch)
timed_metadata.send_cue = _traced("cue", timed_metadata.send_cue)
timed_metadata._record = _traced("record", timed_metadata._record)
_limiter = type(timed_metadata.get_rate_limiter())
_limiter.acquire = _traced("rate_limit", _limiter.acquire)
ivs.IVSBackend.put_metadata = _traced("put_metadata", ivs.IVSBackend.put_metadata)

from django.contrib import auth
from django.contrib.sessions.backends import db as session_db
from django.core.handlers.base import BaseHandler

BaseHandler.get_response = _traced("chain", BaseHandler.get_response)
session_db.SessionStore.load = _traced("session", session_db.SessionStore.load)
auth.get_user = _traced("user", auth.get_user)
"""

TRACE_STEPS = [
    # (label, from, to): each a (step, "start"|"end") in the trace, or "click"/"sent"
    ("click -> view starts (HTTP, ASGI, middleware: session, user, CSRF)", "click", ("view", "start")),
    ("click -> the middleware chain's thread starts (HTTP, ASGI)", "click", ("chain", "start")),
    ("session load (query)", ("session", "start"), ("session", "end")),
    ("user load (session, user query)", ("user", "start"), ("user", "end")),
    ("event lookup + permission", ("event_lookup", "start"), ("event_lookup", "end")),
    ("form (product query)", ("form", "start"), ("form", "end")),
    ("service (transaction, commit, on_commit hooks)", ("service", "start"), ("service", "end")),
    (
        "service start -> the cue's after-commit hook (lock, checks, insert, commit, earlier hooks)",
        ("service", "start"),
        ("dispatch", "start"),
    ),
    ("cue thread starts, from its hook", ("dispatch", "start"), ("cue", "start")),
    ("cue: rate limit (Redis script)", ("rate_limit", "start"), ("rate_limit", "end")),
    ("cue: boto3 PutMetadata -> request arrives", ("put_metadata", "start"), "sent"),
    ("cue: outcome recorded (after the call)", ("record", "start"), ("record", "end")),
    ("view: response payload (refresh_from_db)", ("response_payload", "start"), ("response_payload", "end")),
]


class ConsoleClient:
    """A logged-in host's browser tab, reduced to the feature button (keep-alive HTTP/1.1)."""

    def __init__(self, port: int, host_user, slug: str):
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore
        from django.urls import reverse
        from django.utils.crypto import get_random_string

        session = SessionStore()
        session[SESSION_KEY] = str(host_user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = host_user.get_session_auth_hash()
        session.create()
        self.csrf = get_random_string(32)
        self.path = reverse("events:feature", kwargs={"slug": slug})
        self.origin = f"https://127.0.0.1:{port}"
        self.cookie = f"sessionid={session.session_key}; csrftoken={self.csrf}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request_parts(self, product_id: int) -> tuple[dict[str, str], bytes]:
        """The click's headers and body, as console.js sends them."""
        boundary = "----liveshopbench7MA4YWxkTrZu0gW"
        fields = {"csrfmiddlewaretoken": self.csrf, "product_id": str(product_id)}
        body = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept": "application/json",
            "X-Requested-With": "fetch",
            "X-CSRFToken": self.csrf,
            "Cookie": self.cookie,
            "Origin": self.origin,
            "Referer": self.origin + self.path,
            "X-Forwarded-Proto": "https",  # behind the TLS-terminating load balancer
        }
        return headers, (body + f"--{boundary}--\r\n").encode()

    def feature(self, product_id: int) -> tuple[int, dict]:
        headers, body = self.request_parts(product_id)
        self.conn.request("POST", self.path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, {"raw": data[:300].decode(errors="replace")}

    def close(self) -> None:
        self.conn.close()


def view_exists() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("events:feature", kwargs={"slug": _common.EVENT_SLUG})
    except NoReverseMatch:
        return False
    return True


def summarize(name: str, values: list[float]) -> str:
    p = _common.percentile
    return (
        f"| {name} | {len(values)} | {p(values, 50):.1f} | {p(values, 95):.1f} | {p(values, 99):.1f} "
        f"| {max(values):.1f} |"
    )


def print_trace(trace_file: Path, clicks: list[tuple[float, float]]) -> None:
    """Median and p95 of each step of the measured clicks (matched by time)."""
    spans = [line.split() for line in trace_file.read_text().splitlines()]
    steps: dict[str, list[float]] = {label: [] for label, *_ in TRACE_STEPS}
    for t0, sent in clicks:
        mine = {}
        for name, start, end, _thread in spans:
            if t0 <= float(start) <= sent + 0.5 and name not in mine:
                mine[name] = {"start": float(start), "end": float(end)}

        def at(point, mine=mine, t0=t0, sent=sent):
            if point == "click":
                return t0
            if point == "sent":
                return sent
            name, edge = point
            return mine[name][edge] if name in mine else None

        for label, a, b in TRACE_STEPS:
            start, end = at(a), at(b)
            if start is not None and end is not None:
                steps[label].append((end - start) * 1000)
    print("\nwhere a click's time goes (ms; --trace adds a little to each step)")
    print("| step | p50 | p95 |")
    print("|---|---:|---:|")
    for label, values in steps.items():
        if values:
            print(
                f"| {label} | {_common.percentile(values, 50):.1f} | {_common.percentile(values, 95):.1f} |"
            )


def run_in_process(args) -> None:
    """--mode inprocess: see the module's docstring."""
    import asyncio
    import os

    tree = Path(args.tree).resolve()
    os.chdir(tree)
    env = _common.server_env(args.db_url, args.redis_url, **_common.ivs_env("http://127.0.0.1:9"))
    migrate = [_common.PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"]
    subprocess.run(migrate, cwd=tree, env=env, check=True, timeout=300)
    os.environ.update(env)
    sys.path.insert(0, str(tree))
    from liveshop.asgi import application

    event, products, host = _common.seed_show()
    from django.core.handlers.base import BaseHandler
    from django.db import connection

    from events import timed_metadata

    client = ConsoleClient(8000, host, event.slug)
    client.close()  # its session, CSRF token and path; no connection is used here
    state: dict = {}

    def dispatch(cue):
        state["cue"] = (time.process_time(), time.perf_counter(), len(state["sql"]))

    timed_metadata.dispatch = dispatch
    get_response = BaseHandler.get_response

    def counted_get_response(self, request):
        def note(execute, sql, params, many, context):
            state["sql"].append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(note):
            return get_response(self, request)

    BaseHandler.get_response = counted_get_response
    connection.close()  # the request threads open their own

    async def post(product_id: int) -> int:
        headers, body = client.request_parts(product_id)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": client.path,
            "raw_path": client.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        done = asyncio.Event()
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = []

        async def receive():
            if messages:
                return messages.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif not message.get("more_body"):
                done.set()

        await application(scope, receive, send)
        return status[0]

    async def clicks() -> dict:
        rows = []
        for i in range(args.clicks + 5):  # the first 5 warm the process up
            state.clear()
            state["sql"] = []
            c0, w0 = time.process_time(), time.perf_counter()
            status = await post(products[i % 2].pk)
            c1, w1 = time.process_time(), time.perf_counter()
            if status != 200 or "cue" not in state:
                raise RuntimeError(f"the click failed: status {status}, cue dispatched: {'cue' in state}")
            cue_cpu, cue_wall, cue_sql = state["cue"]
            if i >= 5:
                rows.append((c1 - c0, cue_cpu - c0, w1 - w0, cue_wall - w0, len(state["sql"]), cue_sql))
            await asyncio.sleep(args.interval / 3)
        return rows

    rows = asyncio.run(clicks())
    p = _common.percentile
    column = [[row[k] * 1000 for row in rows] for k in range(4)]
    print(
        json.dumps(
            {
                "tree": str(tree),
                "load": round(os.getloadavg()[0], 2),
                "clicks": len(rows),
                "cpu_p50": round(p(column[0], 50), 2),
                "cpu_to_cue_p50": round(p(column[1], 50), 2),
                "wall_p50": round(p(column[2], 50), 2),
                "wall_to_cue_p50": round(p(column[3], 50), 2),
                "wall_to_cue_p99": round(p(column[3], 99), 2),
                "statements": max(row[4] for row in rows),
                "statements_before_cue": max(row[5] for row in rows),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=40, help="clicks measured (after the first)")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between clicks (>= 0.25)")
    parser.add_argument("--mode", choices=["auto", "http", "service", "inprocess"], default="auto")
    parser.add_argument("--tree", default=str(_common.ROOT), help="inprocess: the checkout whose code runs")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--db-url", default=_common.DEFAULT_DB_URL)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--trace", action="store_true", help="http mode: split each click into its steps")
    args = parser.parse_args()
    if args.interval < 0.25:
        parser.error("--interval below 0.25 s would be throttled by the 5 calls/s limit")
    _common.raise_nofile()
    if args.mode == "inprocess":
        _common.ensure_database(args.db_url)
        run_in_process(args)
        return

    stub = _common.IVSStub(cpu=args.client_cpu)
    server = console = None
    try:
        env = _common.server_env(args.db_url, args.redis_url, **_common.ivs_env(stub.url))
        _common.ensure_database(args.db_url)
        _common.migrate(env)
        _common.pin(args.client_cpu if args.mode != "service" else args.server_cpu)
        _common.setup_django(env)
        event, products, host = _common.seed_show()
        mode = args.mode if args.mode != "auto" else ("http" if view_exists() else "service")
        if mode == "http":
            port = _common.free_port()
            workdir = Path(tempfile.mkdtemp(prefix="liveshop-feature-click-"))
            log = workdir / "uvicorn.log"
            app = "liveshop.asgi:application"
            if args.trace:
                (workdir / "bench_trace_asgi.py").write_text(TRACE_MODULE)
                trace_file = workdir / "trace.log"
                env = {**env, "PYTHONPATH": str(workdir), "BENCH_TRACE_FILE": str(trace_file)}
                app = "bench_trace_asgi:application"
            server = _common.start_uvicorn(port, env, args.server_cpu, log, app=app)
            console = ConsoleClient(port, host, event.slug)
            print(f"mode: http (POST {console.path} to uvicorn, production settings; log {log})")
        else:
            from events.services import feature_product

            print(
                "mode: service (feature_product called here, in the same thread model as the view; "
                f"feature view {'present' if view_exists() else 'missing'})"
            )

        cue_ms, response_ms, first, clicks = [], [], None, []
        next_at = 0.0
        for i in range(args.clicks + 1):
            time.sleep(max(0.0, next_at - time.monotonic()))
            product = products[i % 2]
            t0 = time.monotonic()
            next_at = t0 + args.interval
            if mode == "http":
                status, body = console.feature(product.pk)
                if status != 200 or "highlight" not in body:
                    raise RuntimeError(f"the feature request failed: {status} {body}")
                highlight_id = body["highlight"]["highlightId"]
            else:
                highlight_id = feature_product(event=event, product=product, by=host).pk
            answered = time.monotonic()
            marker = f'"highlightId":{highlight_id},'
            request = stub.wait_for(lambda r, m=marker: m in r.get("metadata", ""), timeout=10)
            if request is None:
                raise RuntimeError(f"no PutMetadata for highlight {highlight_id} within 10 s")
            if i == 0:
                first = ((request["t"] - t0) * 1000, (answered - t0) * 1000)
                continue
            clicks.append((t0, request["t"]))
            cue_ms.append((request["t"] - t0) * 1000)
            response_ms.append((answered - t0) * 1000)

        put_metadata = [r for r in stub.requests if r["operation"] == "PutMetadata"]
        print(
            f"\n{len(cue_ms)} clicks, {args.interval} s apart; {len(put_metadata)} PutMetadata requests seen"
        )
        print(f"first click after the server started: cue {first[0]:.1f} ms, response {first[1]:.1f} ms")
        print("\n| ms | clicks | p50 | p95 | p99 | max |")
        print("|---|---:|---:|---:|---:|---:|")
        print(summarize("click -> PutMetadata sent", cue_ms))
        if mode == "http":
            print(summarize("click -> console's response", response_ms))
        else:
            print(summarize("click -> service returned", response_ms))
        p99 = _common.percentile(cue_ms, 99)
        verdict = "met" if p99 <= GOAL_P99_MS else "MISSED"
        print(f"\ngoal p99 <= {GOAL_P99_MS} ms: {verdict} ({p99:.1f} ms)")
        if mode == "http" and args.trace:
            print_trace(trace_file, clicks)
        if args.json:
            args.json.write_text(
                json.dumps({"mode": mode, "first": first, "cue_ms": cue_ms, "response_ms": response_ms})
            )
    finally:
        if console is not None:
            console.close()
        _common.stop(server)
        stub.close()
        try:
            _common.cleanup_redis(args.redis_url)
        except Exception as exc:
            print(f"(could not clean the bench's Redis keys: {exc})")


if __name__ == "__main__":
    main()

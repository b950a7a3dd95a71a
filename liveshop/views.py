import sys

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext, gettext_noop
from django.views.defaults import server_error as django_server_error

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = gettext_noop(
    "Liveshop cannot reach its database right now. Nothing was changed: try again in a few seconds."
)
JSON_PATHS = ("/api/", "/hooks/")


# Crawlers may read the viewer's pages (shows, replays, brands); the studio, admin and hooks are
# for signed-in people and services. Served over plain http too (SECURE_REDIRECT_EXEMPT): a
# crawler that asks http:// first gets the rules, not a redirect.
ROBOTS_TXT = "User-agent: *\nDisallow: /studio/\nDisallow: /admin/\nDisallow: /hooks/\n"


def robots_txt(request):
    """/robots.txt: the crawl rules above, cached for a day."""
    response = HttpResponse(ROBOTS_TXT, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def healthz(request):
    """Load-balancer health check: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def is_database_unavailable(exc: BaseException | None) -> bool:
    """A connection that failed or broke (a restart, a failover, a pool timeout), as opposed to a
    query's own error: OperationalError/InterfaceError, or a DatabaseError raised from one."""
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        if not isinstance(exc, DatabaseError):
            return False
        exc = exc.__cause__
    return False


def server_error(request):
    """handler500: an unreachable database is a 503 with Retry-After and a reason (JSON for the
    console's fetch() calls and the API, a small page without database-backed context otherwise);
    anything else is Django's own 500."""
    if not is_database_unavailable(sys.exc_info()[1]):
        return django_server_error(request)
    if "application/json" in request.headers.get("Accept", "") or request.path.startswith(JSON_PATHS):
        response = JsonResponse({"error": gettext(UNAVAILABLE)}, status=503)
    else:
        response = HttpResponse(
            loader.render_to_string("503.html", {"reason": gettext(UNAVAILABLE)}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response

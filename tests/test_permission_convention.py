"""One permission convention for services (issue 13): a service that takes ``by`` (the user
acting) checks it itself with accounts.permissions.require, whoever calls it, and ``by`` is
required (no ``by=None`` that skips the check). A service for the system alone (webhooks, tasks,
the media server, manage.py) takes no ``by`` and its name says so (``..._as_operator``, or the
system event it handles): there is no unchecked twin of a checked service."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("accounts", "catalog", "events", "recordings", "commerce", "chat", "embed", "demo")
# Services modules not called services: events' invitations, commerce's provider refunds and cancels
# and its flash deals, the studio's product edit.
EXTRA_MODULES = ("events/invitations.py", "commerce/refunds.py", "commerce/deals.py", "catalog/editing.py")
# Services that take ``by`` and do not check it yet (their views check instead): the recordings
# services' owner moves each check into its service and deletes it here.
KNOWN_GAPS: set[str] = set()  # services that take ``by`` but leave the check to their callers


def services_modules() -> list[Path]:
    found = [*(ROOT / extra for extra in EXTRA_MODULES)]
    for app in APPS:
        found += [ROOT / app / "services.py", *sorted((ROOT / app / "services").glob("*.py"))]
    return [path for path in found if path.exists()]


def checks_by(function: ast.FunctionDef) -> bool:
    """Whether ``function`` calls ``require(by, ...)`` (accounts.permissions.require)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "require" and node.args[0].id == "by":
                return True
    return False


def services_taking_by() -> dict[str, ast.FunctionDef]:
    """Every public top-level function of a services module with a ``by`` parameter."""
    found = {}
    for path in services_modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                if any(argument.arg == "by" for argument in arguments):
                    found[f"{path.relative_to(ROOT)}:{node.name}"] = node
    return found


def test_every_service_that_takes_by_checks_it():
    services = services_taking_by()
    assert len(services) >= 15  # the walk found them

    unchecked = {name for name, function in services.items() if not checks_by(function)}

    assert unchecked - KNOWN_GAPS == set(), "call permissions.require(by, ...) in the service itself"
    assert KNOWN_GAPS - unchecked == set(), "these check ``by`` now: remove them from KNOWN_GAPS"


def test_by_is_never_optional():
    optional = []
    for name, function in services_taking_by().items():
        arguments = function.args
        keyword_defaults = dict(
            zip((a.arg for a in arguments.kwonlyargs), arguments.kw_defaults, strict=True)
        )
        positional = [a.arg for a in arguments.posonlyargs + arguments.args]
        positional_defaults = positional[len(positional) - len(arguments.defaults) :]
        if keyword_defaults.get("by") is not None or "by" in positional_defaults:
            optional.append(name)

    assert optional == [], "a default for ``by`` would let a caller skip the check"


def test_the_check_finder_sees_an_attribute_call_and_a_bare_one():
    checked = ast.parse("def f(*, by):\n    permissions.require(by, 'x', 1)\n").body[0]
    bare = ast.parse("def f(*, by):\n    require(by, 'x', 1)\n").body[0]
    unchecked = ast.parse("def f(*, by):\n    permissions.can(by, 'x', 1)\n").body[0]

    assert checks_by(checked) and checks_by(bare) and not checks_by(unchecked)

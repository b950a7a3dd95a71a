"""Dependency audit: requirements.txt with pip-audit, package-lock.json with npm audit, and an
offline fallback on the advisory database next to this file (osv.json, OSV records) when the
online services cannot be reached.

    python deploy/audit/audit.py            # `make audit`: check (exit 1 on a known vulnerability)
    python deploy/audit/audit.py --strict   # also fail when something could not be checked
    python deploy/audit/audit.py refresh    # `make audit-refresh`: rebuild osv.json from osv.dev

Online, pip-audit asks PyPI (its default service) and npm audit asks the npm registry. Either
service being unreachable is not a failure: that ecosystem is checked against osv.json instead
(pip-audit itself, pointed with --osv-url at a local server answering from the file, so it
resolves and matches exactly as online; the lock file's versions against the npm records here).
What the file cannot vouch for (a package it has no word on, a file never refreshed) is printed
as a warning; only --strict fails on it. A known vulnerability always fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE = Path(__file__).resolve().parent / "osv.json"
OSV_API = "https://api.osv.dev/v1"
# pip-audit's default service: PyPI's JSON API per release (probed before a minute of resolving;
# a mirror that serves the index but not this API counts as unreachable).
PYPI_PROBE_URL = os.environ.get("AUDIT_PYPI_PROBE_URL", "https://pypi.org/pypi/pip/24.0/json")

CLEAN, VULNERABLE, UNKNOWN = "clean", "vulnerable", "unknown"
LOOKUP_FAILED = "not found on PyPI"  # pip-audit's skip reason when the API answers 404


# --- The database -------------------------------------------------------------------------------


def canonical(name: str, ecosystem: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if ecosystem == "PyPI" else name


def load_database(path: Path = DATABASE) -> dict:
    if not path.exists():
        return {"refreshed": None, "packages": {}, "vulns": []}
    return json.loads(path.read_text())


def pypi_key(version: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return None


def semver_key(version: str):
    """npm's order: major.minor.patch, a pre-release sorting before its release."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?", version.strip())
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (int(major), int(minor), int(patch), (0, parts) if pre else (1, ()))


KEYS: dict[str, Callable] = {"PyPI": pypi_key, "npm": semver_key}


def affects(affected: dict, version: str, ecosystem: str) -> bool:
    """Whether one OSV ``affected`` entry covers ``version`` (its versions list or its ranges)."""
    if version in affected.get("versions", []):
        return True
    key = KEYS[ecosystem]
    current = key(version)
    if current is None:
        return False
    for span in affected.get("ranges", []):
        if span.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        events = []
        for event in span.get("events", []):
            (kind, value), *_ = event.items()
            at = None if value == "0" else key(value)
            if value != "0" and at is None:
                continue
            events.append((at, kind))
        hit = False
        for at, kind in sorted(events, key=lambda e: (e[0] is not None, e[0] or current)):
            if kind == "introduced" and (at is None or at <= current):
                hit = True
            elif (kind == "fixed" and at <= current) or (kind == "last_affected" and at < current):
                hit = False
        if hit:
            return True
    return False


def vulns_for(database: dict, ecosystem: str, name: str, version: str) -> list[dict]:
    name = canonical(name, ecosystem)
    found = []
    for vuln in database["vulns"]:
        if vuln.get("withdrawn"):
            continue
        for affected in vuln.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") != ecosystem or canonical(package.get("name", ""), ecosystem) != name:
                continue
            if affects(affected, version, ecosystem):
                found.append(vuln)
                break
    return found


def covered(database: dict, ecosystem: str, name: str) -> bool:
    """Whether the file was refreshed with this package's advisories (none found is an answer)."""
    return canonical(name, ecosystem) in database.get("packages", {}).get(ecosystem, [])


def served(vuln: dict) -> dict:
    """``vuln`` with PyPI names canonical, as pip-audit compares them (to find the fixed versions)."""
    affected = [
        {**entry, "package": {**entry["package"], "name": canonical(entry["package"]["name"], "PyPI")}}
        if entry.get("package", {}).get("ecosystem") == "PyPI"
        else entry
        for entry in vuln.get("affected", [])
    ]
    return {**vuln, "affected": affected}


@contextmanager
def local_osv(database: dict, seen: list | None = None):
    """An OSV /v1/query endpoint on 127.0.0.1 answering from ``database`` (for pip-audit's
    --osv-url); ``seen`` collects every (name, version) asked about."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            package, version = query["package"], query.get("version", "")
            if seen is not None:
                seen.append((package["name"], version))
            vulns = [
                served(vuln) for vuln in vulns_for(database, package["ecosystem"], package["name"], version)
            ]
            body = json.dumps({"vulns": vulns} if vulns else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


# --- Python -------------------------------------------------------------------------------------


def reachable(url: str, timeout: float = 10) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our https URL)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def pip_audit(requirements: Iterable[Path], *args: str) -> dict:
    """pip-audit's JSON report on the requirement files (``args``: service options)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "--format", "json", "--output", str(report)]
        command += ["--progress-spinner", "off", "--cache-dir", str(Path(folder) / "cache")]
        for path in requirements:
            command += ["--requirement", str(path)]
        run = subprocess.run([*command, *args], capture_output=True, text=True, cwd=ROOT)
        if not report.exists():
            raise RuntimeError(f"pip-audit failed: {run.stderr.strip().splitlines()[-1:] or run.returncode}")
        return json.loads(report.read_text())


def read_pip_report(report: dict, *, database: dict | None = None) -> tuple[str, list[str]]:
    lines, status, missing = [], CLEAN, []
    for dependency in report["dependencies"]:
        name, version = dependency["name"], dependency.get("version", "?")
        if "skip_reason" in dependency:
            lines.append(f"warning: {name}: not checked ({dependency['skip_reason']})")
            status = UNKNOWN if status == CLEAN else status
            continue
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            ids = ", ".join([vuln["id"], *vuln.get("aliases", [])])
            lines.append(
                f"VULNERABLE: {name} {version}: {ids} (fixed in: {fixes}) {vuln.get('description', '')}"
            )
            status = VULNERABLE
        if database is not None and not covered(database, "PyPI", name):
            missing.append(f"{name} {version}")
    if missing:
        lines.append(f"warning: not in {DATABASE.name} (refresh it): {', '.join(missing)}")
        status = UNKNOWN if status == CLEAN else status
    return status, lines


def audit_python(
    requirements: list[Path], database: dict, *, extra: Iterable[str] = ()
) -> tuple[str, list[str]]:
    if reachable(PYPI_PROBE_URL):
        report = pip_audit(requirements, "--vulnerability-service", "pypi", *extra)
        if not any(
            LOOKUP_FAILED in dependency.get("skip_reason", "") for dependency in report["dependencies"]
        ):
            status, lines = read_pip_report(report)
            return status, ["python: pip-audit against PyPI", *lines]
    header = f"python: PyPI's vulnerability API is unreachable; pip-audit against {DATABASE.name}"
    with local_osv(database) as url:
        report = pip_audit(requirements, "--vulnerability-service", "osv", "--osv-url", url, *extra)
    status, lines = read_pip_report(report, database=database)
    return status, [f"{header} (refreshed {database.get('refreshed') or 'never'})", *lines]


# --- npm ----------------------------------------------------------------------------------------


def lock_packages(lock_path: Path) -> list[tuple[str, str]]:
    lock = json.loads(lock_path.read_text())
    found = set()
    for path, entry in lock.get("packages", {}).items():
        if path and "version" in entry and not entry.get("link"):
            found.add((entry.get("name") or path.rsplit("node_modules/", 1)[-1], entry["version"]))
    return sorted(found)


def npm_audit(project: Path) -> dict | None:
    """npm audit's JSON report on the lock file, or None when its service cannot be reached."""
    run = subprocess.run(
        ["npm", "audit", "--package-lock-only", "--json"],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=300,
    )
    try:
        report = json.loads(run.stdout or "{}")
    except json.JSONDecodeError:
        return None
    if "vulnerabilities" not in report or "error" in report:
        return None
    return report


def audit_npm(project: Path, database: dict) -> tuple[str, list[str]]:
    lock = project / "package-lock.json"
    if not lock.exists():
        return CLEAN, ["npm: no package-lock.json"]
    report = npm_audit(project)
    if report is not None:
        lines = ["npm: npm audit against the registry"]
        for name, finding in sorted(report["vulnerabilities"].items()):
            via = ", ".join(
                v.get("url", v.get("title", "")) if isinstance(v, dict) else v for v in finding["via"]
            )
            lines.append(f"VULNERABLE: {name} {finding.get('range', '')}: {finding['severity']} ({via})")
        return (VULNERABLE if report["vulnerabilities"] else CLEAN), lines
    lines = [
        f"npm: the registry's audit service is unreachable; package-lock.json against {DATABASE.name}"
        f" (refreshed {database.get('refreshed') or 'never'})"
    ]
    status, missing = CLEAN, []
    for name, version in lock_packages(lock):
        for vuln in vulns_for(database, "npm", name, version):
            lines.append(f"VULNERABLE: {name} {version}: {vuln['id']} {vuln.get('summary', '')}")
            status = VULNERABLE
        if not covered(database, "npm", name):
            missing.append(f"{name} {version}")
    if missing:
        lines.append(f"warning: not in {DATABASE.name} (refresh it): {', '.join(missing)}")
        status = UNKNOWN if status == CLEAN else status
    return status, lines


# --- Refresh ------------------------------------------------------------------------------------


def osv_request(path: str, payload: dict | None = None) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(f"{OSV_API}/{path}", data=data, headers=headers)  # noqa: S310 (https)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (https)
        return json.loads(response.read())


def refresh(requirements: list[Path], project: Path, path: Path = DATABASE) -> str:
    """Rebuild the file from osv.dev: every advisory of every package pip-audit resolves from the
    requirement files and every package of the lock file (all versions, so it also answers for
    a version bumped later)."""
    seen: list[tuple[str, str]] = []
    with local_osv({"vulns": []}, seen) as url:  # records what pip-audit resolves, answers "none"
        pip_audit(requirements, "--vulnerability-service", "osv", "--osv-url", url)
    wanted = sorted({("PyPI", canonical(name, "PyPI")) for name, _ in seen})
    lock = project / "package-lock.json"
    wanted += sorted({("npm", name) for name, _ in lock_packages(lock)} if lock.exists() else set())
    ids: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        answer = osv_request(
            "querybatch", {"queries": [{"package": {"name": n, "ecosystem": e}} for e, n in chunk]}
        )
        for result in answer.get("results", []):
            ids |= {vuln["id"] for vuln in result.get("vulns", [])}
    vulns = [osv_request(f"vulns/{vuln_id}") for vuln_id in sorted(ids)]
    database = {
        "refreshed": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": f"{OSV_API} (python deploy/audit/audit.py refresh)",
        "packages": {
            "PyPI": sorted(n for e, n in wanted if e == "PyPI"),
            "npm": sorted(n for e, n in wanted if e == "npm"),
        },
        "vulns": vulns,
    }
    path.write_text(json.dumps(database, indent=1, sort_keys=True) + "\n")
    return f"{path}: {len(vulns)} advisories for {len(wanted)} packages"


# --- Command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["check", "refresh"], default="check")
    parser.add_argument("--requirement", "-r", type=Path, action="append", help="default: requirements.txt")
    parser.add_argument("--project", type=Path, default=ROOT, help="the folder of package-lock.json")
    parser.add_argument("--database", type=Path, default=DATABASE)
    parser.add_argument("--strict", action="store_true", help="fail when something could not be checked")
    parser.add_argument(
        "--no-deps", action="store_true", help="audit only the pinned requirements (no resolution)"
    )
    options = parser.parse_args(argv)
    requirements = options.requirement or [ROOT / "requirements.txt"]
    extra = ["--no-deps", "--disable-pip"] if options.no_deps else []
    if options.command == "refresh":
        try:
            osv_request("querybatch", {"queries": []})  # fail fast, before resolving
            print(refresh(requirements, options.project, options.database))
        except (urllib.error.URLError, OSError) as error:
            print(f"audit refresh: cannot reach {OSV_API} ({error}); {options.database} is unchanged")
            return 1
        return 0
    database = load_database(options.database)
    results = [audit_python(requirements, database, extra=extra), audit_npm(options.project, database)]
    for _, lines in results:
        print("\n".join(lines))
    statuses = {status for status, _ in results}
    if VULNERABLE in statuses:
        print("audit: known vulnerabilities (above): upgrade, or pin a fixed version")
        return 1
    if UNKNOWN in statuses:
        print("audit: no known vulnerability, but not everything could be checked (warnings above)")
        return 1 if options.strict else 0
    print("audit: no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())

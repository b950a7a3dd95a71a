"""`make audit` (deploy/audit/audit.py): a known vulnerability fails, online or from the offline
advisory file; a vulnerability service that cannot be reached does not (unless --strict)."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("audit", ROOT / "deploy" / "audit" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: connection refused at once


def advisory(ecosystem, name, *, fixed=None, introduced="0", versions=(), vuln_id="GHSA-test-0001"):
    events = [{"introduced": introduced}] + ([{"fixed": fixed}] if fixed else [])
    return {
        "id": vuln_id,
        "aliases": ["CVE-2099-0001"],
        "summary": f"A test advisory for {name}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM" if ecosystem == "PyPI" else "SEMVER", "events": events}],
                "versions": list(versions),
            }
        ],
    }


def database(tmp_path, *vulns, pypi=("django",), npm=("hls.js",)) -> Path:
    path = tmp_path / "osv.json"
    data = {"refreshed": "2026-12-01T00:00:00Z", "packages": {"PyPI": list(pypi), "npm": list(npm)}}
    path.write_text(json.dumps({**data, "vulns": list(vulns)}))
    return path


@pytest.fixture
def offline(monkeypatch):
    """Neither PyPI's vulnerability API nor the npm registry's audit service answers."""
    monkeypatch.setattr(audit, "PYPI_PROBE_URL", UNREACHABLE)
    monkeypatch.setenv("npm_config_registry", UNREACHABLE)
    monkeypatch.setenv("npm_config_fetch_retries", "0")


@pytest.fixture
def requirements(tmp_path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("Django==5.2.19\n")
    return path


@pytest.fixture
def npm_project(tmp_path) -> Path:
    project = tmp_path / "web"
    project.mkdir()
    lock = {
        "name": "web",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "web", "dependencies": {"hls.js": "1.7.4"}},
            "node_modules/hls.js": {
                "version": "1.7.4",
                "resolved": "https://registry.npmjs.org/hls.js/-/hls.js-1.7.4.tgz",
            },
        },
    }
    (project / "package-lock.json").write_text(json.dumps(lock))
    (project / "package.json").write_text(json.dumps({"name": "web", "dependencies": {"hls.js": "1.7.4"}}))
    return project


def run(requirements, project, db, *extra) -> int:
    args = ["--requirement", str(requirements), "--project", str(project), "--database", str(db), "--no-deps"]
    return audit.main([*args, *extra])


@pytest.mark.parametrize(
    ("version", "events", "affected"),
    [
        ("5.2.19", [{"introduced": "0"}, {"fixed": "5.2.20"}], True),
        ("5.2.20", [{"introduced": "0"}, {"fixed": "5.2.20"}], False),
        (
            "5.2.19",
            [{"introduced": "5.0"}, {"fixed": "5.1.9"}, {"introduced": "5.2"}, {"fixed": "5.2.10"}],
            False,
        ),
        (
            "5.2.5",
            [{"introduced": "5.0"}, {"fixed": "5.1.9"}, {"introduced": "5.2"}, {"fixed": "5.2.10"}],
            True,
        ),
        ("5.2.19", [{"introduced": "5.2"}, {"last_affected": "5.2.19"}], True),
        ("5.2.20", [{"introduced": "5.2"}, {"last_affected": "5.2.19"}], False),
        ("5.2.19rc1", [{"introduced": "0"}, {"fixed": "5.2.19"}], True),
    ],
)
def test_pypi_ranges(version, events, affected):
    entry = {
        "package": {"ecosystem": "PyPI", "name": "django"},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    assert audit.affects(entry, version, "PyPI") is affected


@pytest.mark.parametrize(
    ("version", "affected"),
    [("1.7.4", True), ("1.8.0-beta.1", True), ("1.8.0", False), ("1.10.0", False), ("0.9.9", False)],
)
def test_npm_semver_ranges(version, affected):
    entry = {
        "package": {"ecosystem": "npm", "name": "hls.js"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.8.0"}]}],
    }
    assert audit.affects(entry, version, "npm") is affected


def test_offline_a_known_python_vulnerability_fails(tmp_path, offline, requirements, npm_project, capsys):
    db = database(tmp_path, advisory("PyPI", "Django", fixed="5.2.20"))

    assert run(requirements, npm_project, db) == 1

    out = capsys.readouterr().out
    assert "PyPI's vulnerability API is unreachable; pip-audit against osv.json" in out
    [line] = [line for line in out.splitlines() if line.startswith("VULNERABLE")]
    assert line.startswith("VULNERABLE: django 5.2.19: ")
    assert "GHSA-test-0001" in line and "CVE-2099-0001" in line and "(fixed in: 5.2.20)" in line


def test_offline_a_known_npm_vulnerability_fails(tmp_path, offline, requirements, npm_project, capsys):
    if not shutil.which("npm"):
        pytest.skip("npm is not installed")
    db = database(
        tmp_path, advisory("npm", "hls.js", introduced="1.0.0", fixed="1.8.0", vuln_id="GHSA-hls-0001")
    )

    assert run(requirements, npm_project, db) == 1

    out = capsys.readouterr().out
    assert "npm: the registry's audit service is unreachable" in out
    assert "VULNERABLE: hls.js 1.7.4: GHSA-hls-0001" in out


def test_offline_fixed_versions_pass(tmp_path, offline, requirements, npm_project, capsys):
    db = database(
        tmp_path,
        advisory("PyPI", "django", fixed="5.2.19"),
        advisory("npm", "hls.js", introduced="1.0.0", fixed="1.7.4", vuln_id="GHSA-hls-0001"),
    )

    assert run(requirements, npm_project, db) == 0

    out = capsys.readouterr().out
    assert "VULNERABLE" not in out and "warning" not in out
    assert out.strip().endswith("audit: no known vulnerabilities")


def test_an_unreachable_service_without_data_warns_and_passes_unless_strict(
    tmp_path, offline, requirements, npm_project, capsys
):
    db = database(tmp_path, pypi=(), npm=())

    assert run(requirements, npm_project, db) == 0
    out = capsys.readouterr().out
    assert "warning: not in osv.json (refresh it): django 5.2.19" in out
    assert "warning: not in osv.json (refresh it): hls.js 1.7.4" in out

    assert run(requirements, npm_project, db, "--strict") == 1


def test_online_reports_are_read(monkeypatch, tmp_path, npm_project):
    report = {
        "dependencies": [
            {"name": "django", "version": "5.2.19", "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.20"]}]},
            {"name": "srt", "version": "3.5.3", "vulns": []},
        ]
    }
    assert audit.read_pip_report(report)[0] == audit.VULNERABLE
    assert audit.read_pip_report({"dependencies": report["dependencies"][1:]})[0] == audit.CLEAN

    npm_report = {
        "vulnerabilities": {"hls.js": {"severity": "high", "range": "<1.8.0", "via": [{"url": "u"}]}}
    }
    monkeypatch.setattr(audit, "npm_audit", lambda project: npm_report)
    status, lines = audit.audit_npm(npm_project, {"vulns": []})
    assert status == audit.VULNERABLE
    assert "VULNERABLE: hls.js <1.8.0: high (u)" in lines


def test_the_committed_database_is_valid():
    data = audit.load_database()
    assert set(data) >= {"refreshed", "packages", "vulns"}
    assert set(data["packages"]) == {"PyPI", "npm"}

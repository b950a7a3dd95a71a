# Liveshop: `make demo` runs the whole product on this machine; `make test` is the one test command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo's private Redis (docker/start-redis-demo), when redis-server is installed.
DEMO_REDIS_PORT ?= 6389
# Debian packages the tests and the demo use (installed by `make system-deps`, run as root);
# also Debian's nodejs and npm when no npm is on the PATH (the viewer page's players come from npm).
# gettext: makemessages/compilemessages (the compiled catalogues are committed; tests need none).
DEBIAN_PACKAGES := postgresql redis-server nginx libnginx-mod-rtmp ffmpeg chromium fonts-dejavu-core gettext

.PHONY: demo prodlike test install lint format system-deps clean audit audit-refresh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The viewer page's players (hls.js, the IVS web player), served as static files; npm ci's
# postinstall bundles the IVS player (package.json). npm ci empties node_modules, so stamp after.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed node_modules/.installed

system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done; \
		command -v npm >/dev/null || echo nodejs npm); \
	if [ -z "$$missing" ]; then echo "Debian packages: all present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "Installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "Missing Debian packages (tests that need them are skipped): sudo apt-get install" $$missing; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint deploy/*.yaml

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: system-deps install lint
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

# Known vulnerabilities in requirements.txt (pip-audit) and package-lock.json (npm audit); where
# a service cannot be reached, against deploy/audit/osv.json instead (that is a warning, not a
# failure; AUDIT_ARGS=--strict makes it one). A known vulnerability fails.
audit: install
	$(BIN)/python deploy/audit/audit.py $(AUDIT_ARGS)

# Rebuild deploy/audit/osv.json from osv.dev (needs the network), then commit it.
audit-refresh: install
	$(BIN)/python deploy/audit/audit.py refresh

demo: install
	$(BIN)/python manage.py migrate --noinput
	LIVESHOP_SITE_URL=http://$(HOST):$(PORT) $(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py allow_embed_origin northwind http://localhost:$(PORT)
	@$(BIN)/python manage.py demo_check
	@echo
	@echo "Liveshop is starting at http://$(HOST):$(PORT)/"
	@echo "  watch:   http://$(HOST):$(PORT)/e/northwind/northwind-live/   (the demo show, live in a loop)"
	@echo "  log in:  http://$(HOST):$(PORT)/login/   (demo logins are printed above)"
	@echo "  studio:  http://$(HOST):$(PORT)/studio/   (events, go-live panel, stream keys)"
	@echo "  admin:   http://$(HOST):$(PORT)/admin/"
	@echo "  embed:   http://localhost:$(PORT)/embed/demo-shop/   (a shop on another origin embedding the show; docs/embed.md)"
	@echo
	HOST=$(HOST) PORT=$(PORT) LIVESHOP_SITE_URL=http://$(HOST):$(PORT) \
		REDIS_URL=$${REDIS_URL:-$$(command -v redis-server >/dev/null && echo redis://127.0.0.1:$(DEMO_REDIS_PORT)/0)} \
		$(BIN)/honcho -f Procfile.demo start

# The production topology on this machine, left running (deploy/prodlike.py): nginx in front of two
# production web processes (DJANGO_DEBUG=false), a worker, a discovery worker and beat, the media
# server and the demo show, on a PostgreSQL and Redis of its own. `kill -HUP <pid>` rolls the web
# processes as a deploy would; Ctrl-C stops everything.
prodlike: install
	$(BIN)/python deploy/prodlike.py --port $(PORT)

clean:
	rm -rf $(VENV) node_modules db.sqlite3 media staticfiles var test-artifacts

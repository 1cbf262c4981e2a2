# reeld: build, test and install. `make help` lists the targets.
#
# Development happens in .venv, built from the hash-locked requirements/lock.txt. `make install`
# puts reeld for the current user (no root) into its own venv under ~/.local/share/reeld/, with
# symlinks in ~/.local/bin, the systemd user unit and the D-Bus activation file.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

# A Python 3.11 by preference (CI and Debian 12 have one); any python3 >= 3.11 works.
ifndef PYTHON
PYTHON := $(shell for p in python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && exec $$p -c 'import sys; print(sys.executable)'; done)
endif
VENV ?= .venv
STAMPS := .stamps
LOCK := requirements/lock.txt
PIP := $(VENV)/bin/python -m pip --disable-pip-version-check
LINT_PATHS := $(wildcard reeld tests bench migrations frontends)
PYTEST_ARGS ?=

# Debian packages the tests drive for real: the bus, a Secret Service, busctl/systemd-analyze,
# gdbus/gdbus-codegen, qdbusxml2cpp (lands in /usr/lib/qt6/bin), GLib for the system python's
# ObjectManager client, and what building dbus-python (for python-dbusmock) needs.
# pymediainfo's wheel ships its own libmediainfo, and dbus-launch (dbus-x11) is never used.
SYSTEM_PACKAGES := dbus gnome-keyring libsecret-tools libdbus-1-dev libglib2.0-dev libglib2.0-dev-bin \
	libglib2.0-bin pkg-config gcc python3-dev python3-venv python3-gi gir1.2-glib-2.0 gir1.2-gdkpixbuf-2.0 systemd \
	qt6-base-dev-tools sqlite3 gir1.2-gtk-4.0 gir1.2-adw-1 gir1.2-json-1.0 xvfb
# What `make demo` needs of them: its private bus, a keyring for its servers' tokens, and venv.
DEMO_SYSTEM_PACKAGES := dbus gnome-keyring python3-venv

# Install locations (per user). DESTDIR stages the files elsewhere, for inspection: the venv's
# scripts then name the staged path, so a staged tree does not run from its final place.
PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(or $(XDG_DATA_HOME),$(PREFIX)/share)
APPDIR ?= $(DATADIR)/reeld
USER_UNIT_DIR ?= $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/systemd/user
DBUS_SERVICES_DIR ?= $(DATADIR)/dbus-1/services
DBUS_INTERFACES_DIR ?= $(DATADIR)/dbus-1/interfaces
DESTDIR ?=
INSTALL_VENV := $(APPDIR)/venv
BUS_NAME := io.github.reeld.Reeld1

.PHONY: help test lint format demo gui screenshots bench lock install uninstall clean distclean system-deps venv

help:
	@echo "make test       system packages (as root), .venv, ruff, mypy, pytest (PYTEST_ARGS=...)"
	@echo "make lint       ruff check, ruff format --check, mypy"
	@echo "make format     ruff format and ruff check --fix"
	@echo "make demo       run 'reeld demo' on a private bus with sample data (Ctrl-C stops it)"
	@echo "make gui        run reeld-gtk, the GNOME frontend, on the session bus (DEMO=1: on 'reeld demo')"
	@echo "make screenshots  save reeld-gtk's screenshots (light, dark, narrow) to docs/screenshots/"
	@echo "make bench      run every bench/bench_*.py"
	@echo "make lock       regenerate $(LOCK) with uv from pyproject.toml (UPGRADE=1 to upgrade)"
	@echo "make install    install for this user (PREFIX=$(PREFIX), DESTDIR=...)"
	@echo "make uninstall  remove what 'make install' installed (keeps your config and cache)"
	@echo "make clean      remove caches, build output and stamps; 'make distclean' also .venv"

# -- environment ---------------------------------------------------------------------------------

# Checks with dpkg; installs what is missing when root (once: the stamp), else says what to install
# and goes on (the tests that need a missing tool skip, naming its package).
system-deps: $(STAMPS)/system-deps
$(STAMPS)/system-deps: Makefile
	@$(call debian_packages,$(SYSTEM_PACKAGES))
	mkdir -p $(STAMPS); touch $@

# The demo's few; nothing to do when all of them are there already.
$(STAMPS)/system-deps-demo: Makefile
	$(if $(wildcard $(STAMPS)/system-deps),,@$(call debian_packages,$(DEMO_SYSTEM_PACKAGES)))
	mkdir -p $(STAMPS); touch $@

define debian_packages
	if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "system-deps: not a Debian system; install the equivalents of: $(1)" >&2; \
		exit 0; \
	fi; \
	missing=""; \
	for package in $(1); do \
		dpkg-query -W -f='$${db:Status-Abbrev}' "$$package" 2>/dev/null | grep -q '^ii' || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			echo "system-deps: installing$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq; \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "system-deps: missing Debian packages:$$missing" >&2; \
			echo "system-deps: install them with: sudo apt-get install --no-install-recommends$$missing" >&2; \
			echo "system-deps: going on; what needs them will skip or say so" >&2; \
		fi; \
	fi
endef

venv: $(STAMPS)/venv
$(STAMPS)/venv: $(LOCK) pyproject.toml setup.py | system-deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r $(LOCK) || { \
		echo "venv: installing $(LOCK) failed. dbus-python (for python-dbusmock) builds from source and" >&2; \
		echo "venv: needs: sudo apt-get install --no-install-recommends libdbus-1-dev libglib2.0-dev pkg-config gcc python3-dev" >&2; \
		exit 1; \
	}
	$(PIP) install --quiet --no-deps -e .
	@mkdir -p $(STAMPS); touch $@

# -- checks --------------------------------------------------------------------------------------

lint: $(STAMPS)/venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

# pytest's exit code 5 means it collected no test: that is a failure here, with a word why.
test: lint
	@echo "$(VENV)/bin/pytest -q $(PYTEST_ARGS)"
	@$(VENV)/bin/pytest -q $(PYTEST_ARGS) || { \
		code=$$?; \
		if [ $$code -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
		exit $$code; \
	}

format: $(STAMPS)/venv
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

# The demo runs the daemon, nothing more: on a fresh machine it installs the runtime part of the lock
# (what `make install` installs) into .venv, not the linters, type checker and test tools. Once
# `make test` has made the full .venv, the demo uses that one; `make test` after `make demo` adds
# only the development packages to it.
DEMO_VENV := $(if $(wildcard $(STAMPS)/venv),$(STAMPS)/venv,$(STAMPS)/venv-runtime)

$(STAMPS)/venv-runtime: $(STAMPS)/runtime-requirements.txt pyproject.toml setup.py | $(STAMPS)/system-deps-demo
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r $(STAMPS)/runtime-requirements.txt
	$(PIP) install --quiet --no-deps -e .
	@touch $@

demo: $(DEMO_VENV)
	$(VENV)/bin/reeld demo $(DEMO_ARGS)

# reeld-gtk runs with the system python (Debian's python3-gi, gir1.2-gtk-4.0, gir1.2-adw-1) and
# reaches reeld over D-Bus only. DEMO=1 starts `reeld demo` for it and stops it when the window closes.
GUI := frontends/gnome/reeld-gtk
WITH_DEMO := frontends/gnome/with-demo.sh $(VENV)/bin/reeld
SHOTS := frontends/gnome/screenshots.py

gui: $(if $(DEMO),$(DEMO_VENV))
	$(if $(DEMO),$(WITH_DEMO)) $(GUI)

# Under a private X server, with the window as X shows it saved by ImageMagick's import.
screenshots: $(DEMO_VENV)
	@command -v xvfb-run >/dev/null && command -v xauth >/dev/null && command -v import >/dev/null || { \
		echo "screenshots: needs: sudo apt-get install --no-install-recommends xvfb xauth imagemagick" >&2; exit 1; }
	xvfb-run -a -s "-screen 0 1280x900x24" env GDK_BACKEND=x11 GSK_RENDERER=cairo GTK_A11Y=none \
		$(WITH_DEMO) sh -c '/usr/bin/python3 $(SHOTS) docs/screenshots && /usr/bin/python3 $(SHOTS) --narrow docs/screenshots'

bench: $(STAMPS)/venv
	@scripts=(bench/bench_*.py); \
	if [ ! -e "$${scripts[0]}" ]; then echo "bench: no bench/bench_*.py scripts" >&2; exit 1; fi; \
	for script in "$${scripts[@]}"; do \
		echo "== $$script"; \
		$(VENV)/bin/python "$$script"; \
	done

lock:
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PIP) install --quiet uv
	$(VENV)/bin/uv pip compile --quiet pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		$(if $(UPGRADE),--upgrade) -o $(LOCK)

# -- install for the current user ----------------------------------------------------------------

# The runtime part of the lock: pyproject's [project] dependencies and everything the lock says
# they pull in ("# via" lines), with the lock's pins and hashes. The dev tools (and dbus-python,
# which needs a C toolchain and libdbus headers to build) stay out of a user's install.
define RUNTIME_REQUIREMENTS_PY
import re, sys, tomllib
from pathlib import Path

lock_path, pyproject_path, out_path = sys.argv[1:4]
normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()
name_at_start = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
dependencies = tomllib.loads(Path(pyproject_path).read_text())["project"]["dependencies"]
wanted = {normal(name_at_start.match(requirement).group()) for requirement in dependencies}
entries, parents, current = {}, {}, None
for line in Path(lock_path).read_text().splitlines():
    pinned = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
    if pinned:
        current = normal(pinned.group(1))
        entries[current], parents[current] = [line], set()
    elif current and line.lstrip().startswith("--hash"):
        entries[current].append(line)
    elif current and line.lstrip().startswith("#"):
        words = line.lstrip("# ").removeprefix("via").split()
        if words:
            parents[current].add(normal(words[0]))
unknown = wanted - set(entries)
if unknown:
    sys.exit(f"runtime requirements missing from {lock_path}: {sorted(unknown)}; run make lock")
while True:
    more = {name for name in entries if name not in wanted and parents[name] & wanted}
    if not more:
        break
    wanted |= more
lines = [line for name in entries if name in wanted for line in entries[name]]
Path(out_path).write_text("\n".join(lines) + "\n")
endef
export RUNTIME_REQUIREMENTS_PY

$(STAMPS)/runtime-requirements.txt: $(LOCK) pyproject.toml
	@mkdir -p $(STAMPS)
	$(PYTHON) -c "$$RUNTIME_REQUIREMENTS_PY" $(LOCK) pyproject.toml $@

# Reloads the user manager when one runs (not for a staged DESTDIR install).
# systemd re-reads the units; the session bus re-reads its activation files (a bus started before
# ~/.local/share/dbus-1/services existed does not watch it).
define reload_user_manager
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null 2>&1 \
		&& systemctl --user show-environment >/dev/null 2>&1; then \
		systemctl --user daemon-reload; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -n "$${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v busctl >/dev/null 2>&1; then \
		busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig \
			>/dev/null 2>&1 || true; \
	fi
endef

install: $(STAMPS)/runtime-requirements.txt
	$(if $(HOME),,$(error HOME is not set))
	test -x $(DESTDIR)$(INSTALL_VENV)/bin/python || $(PYTHON) -m venv $(DESTDIR)$(INSTALL_VENV)
	$(DESTDIR)$(INSTALL_VENV)/bin/python -m pip --disable-pip-version-check install --quiet \
		--require-hashes --no-deps -r $(STAMPS)/runtime-requirements.txt
	$(DESTDIR)$(INSTALL_VENV)/bin/python -m pip --disable-pip-version-check install --quiet \
		--no-deps --force-reinstall .
	$(DESTDIR)$(INSTALL_VENV)/bin/python -m pip --disable-pip-version-check check
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(USER_UNIT_DIR) $(DESTDIR)$(DBUS_SERVICES_DIR) \
		$(DESTDIR)$(DBUS_INTERFACES_DIR)
	ln -sfn $(INSTALL_VENV)/bin/reeld $(DESTDIR)$(BINDIR)/reeld
	ln -sfn $(INSTALL_VENV)/bin/reelctl $(DESTDIR)$(BINDIR)/reelctl
	sed 's|^ExecStart=.*|ExecStart=$(BINDIR)/reeld|' systemd/reeld.service > $(STAMPS)/reeld.service
	install -m 644 $(STAMPS)/reeld.service $(DESTDIR)$(USER_UNIT_DIR)/reeld.service
	sed 's|^Exec=.*|Exec=$(BINDIR)/reeld|' dbus/$(BUS_NAME).service > $(STAMPS)/$(BUS_NAME).service
	install -m 644 $(STAMPS)/$(BUS_NAME).service $(DESTDIR)$(DBUS_SERVICES_DIR)/$(BUS_NAME).service
	@if [ -f dbus/$(BUS_NAME).xml ]; then \
		install -m 644 dbus/$(BUS_NAME).xml $(DESTDIR)$(DBUS_INTERFACES_DIR)/$(BUS_NAME).xml; \
	else \
		echo "install: dbus/$(BUS_NAME).xml is missing: no interface description installed" >&2; \
	fi
	$(reload_user_manager)
	@echo "Installed reeld in $(INSTALL_VENV), linked from $(BINDIR)."
	@echo "D-Bus starts it on first use; to start it at login too: systemctl --user enable --now reeld.service"

# A daemon that D-Bus started by running Exec= (not through systemd, which `disable --now` stops)
# would go on running from the venv about to be removed. Every process of this user whose program is
# in that venv (the daemon, a `reelctl watch`) gets SIGTERM, and SIGKILL after 10 s.
define stop_installed_processes
	@if [ -z "$(DESTDIR)" ]; then \
		for cmdline in /proc/[0-9]*/cmdline; do \
			[ -O "$$cmdline" ] || continue; \
			program=$$(tr '\0' '\n' < "$$cmdline" 2>/dev/null | head -n 1) || continue; \
			case "$$program" in "$(INSTALL_VENV)/bin/"*) ;; *) continue ;; esac; \
			pid=$${cmdline#/proc/}; pid=$${pid%/cmdline}; \
			echo "uninstall: stopping pid $$pid ($$(tr '\0' ' ' < "$$cmdline" 2>/dev/null)), which runs from $(INSTALL_VENV)"; \
			kill -TERM "$$pid" 2>/dev/null || continue; \
			for _ in $$(seq 100); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
			kill -KILL "$$pid" 2>/dev/null || true; \
		done; \
	fi
endef

uninstall:
	$(if $(HOME),,$(error HOME is not set))
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null 2>&1 \
		&& systemctl --user show-environment >/dev/null 2>&1; then \
		systemctl --user disable --now reeld.service >/dev/null 2>&1 || true; \
	fi
	rm -f $(DESTDIR)$(BINDIR)/reeld $(DESTDIR)$(BINDIR)/reelctl
	rm -f $(DESTDIR)$(USER_UNIT_DIR)/reeld.service $(DESTDIR)$(USER_UNIT_DIR)/default.target.wants/reeld.service
	rm -f $(DESTDIR)$(DBUS_SERVICES_DIR)/$(BUS_NAME).service $(DESTDIR)$(DBUS_INTERFACES_DIR)/$(BUS_NAME).xml
	$(stop_installed_processes)
	rm -rf $(DESTDIR)$(INSTALL_VENV)
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(APPDIR) 2>/dev/null || true
	$(reload_user_manager)
	@echo "Removed reeld. Kept its config, cache and Secret Service entries (see $(or $(XDG_CONFIG_HOME),~/.config)/reeld, $(or $(XDG_STATE_HOME),~/.local/state)/reeld)."

# -- housekeeping --------------------------------------------------------------------------------

clean:
	rm -rf $(STAMPS) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

# csync2-ts build, test and install entry points.
# `make` installs npm dependencies (npm ci) and compiles TypeScript into dist/.
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
NODE ?= $(shell command -v node)
SYSTEM_PACKAGES := csync2 rdiff sqlite3 iproute2 diffutils
TEST_FILES = $(shell find dist/test -name '*.test.js' -not -path '*/reliability/full/*' | sort)

.PHONY: all build deps system-deps test test-unit test-reliability demo bench install cert clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json
	@# The one-file CommonJS build bin/csync2 runs (scripts/bundle.mjs says why).
	node scripts/bundle.mjs
	@# The daemon's native pre-binder (optional: bin/csync2 runs without it).
	@mkdir -p dist/launcher
	@$(CC) -O2 -Wall -o dist/launcher/csync2-prebind src/launcher/prebind.c 2>/dev/null \
	  || echo "note: no C compiler; bin/csync2 runs without its pre-binder (src/launcher/prebind.c)"
	@# The daemon's file system flusher (optional: without it each received file gets its own fdatasync).
	@$(CC) -O2 -Wall -o dist/launcher/csync2-syncfs src/launcher/syncfs.c 2>/dev/null \
	  || echo "note: no C compiler; the daemon flushes received files one by one (src/launcher/syncfs.c)"

# The interop tests run the real csync2 and rdiff beside ours (and strace watches a daemon):
# install them when missing.
system-deps:
	@missing=""; \
	command -v csync2 >/dev/null || missing="$$missing csync2"; \
	command -v rdiff >/dev/null || missing="$$missing rdiff"; \
	command -v sqlite3 >/dev/null || missing="$$missing sqlite3"; \
	command -v ss >/dev/null || missing="$$missing iproute2"; \
	command -v diff >/dev/null || missing="$$missing diffutils"; \
	command -v strace >/dev/null || missing="$$missing strace"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: system-deps build
	node scripts/run-tests.mjs $(TEST_FILES)

test-reliability: system-deps build
	CSYNC2_RELIABILITY_FULL=1 node scripts/run-tests.mjs $(shell find dist/test/reliability -name '*.test.js' | sort)

demo: system-deps build
	bash scripts/demo.sh

bench: system-deps build
	bash bench/run.sh

# Self-signed certificate for this host, without openssl (see docs/).
cert: build
	./bin/csync2-cert

install: build
	install -d $(DESTDIR)$(PREFIX)/lib/csync2-ts $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man1
	cp -r dist/src package.json node_modules $(DESTDIR)$(PREFIX)/lib/csync2-ts/
	install -d $(DESTDIR)$(PREFIX)/lib/csync2-ts/dist
	rm -rf $(DESTDIR)$(PREFIX)/lib/csync2-ts/dist/src && mv $(DESTDIR)$(PREFIX)/lib/csync2-ts/src $(DESTDIR)$(PREFIX)/lib/csync2-ts/dist/src
	install -m 644 dist/csync2.cjs dist/csync2-main.cjs $(DESTDIR)$(PREFIX)/lib/csync2-ts/dist/
	[ ! -f dist/launcher/csync2-prebind ] || install -D -m 755 dist/launcher/csync2-prebind $(DESTDIR)$(PREFIX)/lib/csync2-ts/dist/launcher/csync2-prebind
	[ ! -f dist/launcher/csync2-syncfs ] || install -D -m 755 dist/launcher/csync2-syncfs $(DESTDIR)$(PREFIX)/lib/csync2-ts/dist/launcher/csync2-syncfs
	install -d $(DESTDIR)$(PREFIX)/lib/csync2-ts/bin
	for b in bin/*; do sed -e '1,2s| node | $(NODE) |g' -e '1s| node$$| $(NODE)|' $$b > $(DESTDIR)$(PREFIX)/lib/csync2-ts/$$b; chmod 755 $(DESTDIR)$(PREFIX)/lib/csync2-ts/$$b; \
	  ln -sf ../lib/csync2-ts/$$b $(DESTDIR)$(PREFIX)/sbin/$$(basename $$b); done
	[ ! -f docs/csync2.1 ] || install -m 644 docs/csync2.1 $(DESTDIR)$(PREFIX)/share/man/man1/csync2.1

clean:
	rm -rf dist

# cmdop's build: checks and tests, code generation, the demo, benchmarks and release binaries.
# Deno is the one tool: scripts/ensure_deno.sh installs deno@2.9.6 from npm into .tools/ when
# PATH has no Deno 2.9, and scripts/deno runs .tools/' copy when there is one, else PATH's.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

DENO := $(CURDIR)/scripts/deno
export DENO
BUF := $(DENO) run -A --quiet node_modules/@bufbuild/buf/bin/buf

.PHONY: help tools deps test fmt fmt-check lint check gen check-gen breaking install uninstall demo bench dist clean

help:
	@echo "make test       format, lint, type and gen/ checks, then all tests (ends with 'N passed, K failed, S skipped')"
	@echo "make demo       a relay, an agent and cmdop connect, on this machine"
	@echo "make gen        regenerate gen/ and src/protocol/lean/ from proto/ with buf"
	@echo "make check-gen  fail when gen/ or src/protocol/lean/ is not what proto/ generates"
	@echo "make breaking   buf breaking: proto/ stays wire compatible with the last release (or main)"
	@echo "make fmt        format the code (deno fmt, buf format)"
	@echo "make lint       deno lint, buf lint, and src/'s import rules (no cycle, layers)"
	@echo "make check      type check"
	@echo "make bench      benchmarks against OpenSSH (bench/main.ts)"
	@echo "make install    cmdop on PATH: PREFIX/bin/cmdop, the program in PREFIX/lib/cmdop (PREFIX=/usr/local)"
	@echo "make dist       release binaries for Linux, macOS and Windows in dist/"
	@echo "make clean      remove dist/"

tools:
	@bash scripts/ensure_deno.sh

# node_modules/ (buf, protoc-gen-es and the npm imports), from deno.lock.
deps: tools
	@$(DENO) install --quiet

test:
	@bash scripts/test.sh

fmt: deps
	$(DENO) fmt
	$(BUF) format --write

fmt-check: deps
	$(DENO) fmt --check
	$(BUF) format --diff --exit-code

lint: deps
	$(DENO) lint
	$(BUF) lint
	$(DENO) run --allow-read --allow-write=src --allow-run --quiet scripts/check_imports.ts

check: deps
	$(DENO) check

gen: deps
	$(BUF) generate
	$(DENO) run --allow-read --allow-write scripts/gen_web_assets.ts

check-gen: deps
	@bash scripts/check_gen.sh

breaking: deps
	@bash scripts/check_breaking.sh

demo: deps
	@if [ -f scripts/demo.sh ]; then bash scripts/demo.sh; else echo "make demo: not yet"; exit 1; fi

bench: deps
	$(DENO) run -A bench/main.ts $(ARGS)

install: deps
	@bash scripts/install.sh

uninstall:
	rm -rf "$(DESTDIR)$${PREFIX:-/usr/local}/lib/cmdop" "$(DESTDIR)$${PREFIX:-/usr/local}/bin/cmdop"

dist: deps
	@bash scripts/dist.sh

clean:
	rm -rf dist

# wabus: WhatsApp on the bus.
NATS_SERVER_VERSION := v2.15.3
GOBIN ?= $(shell go env GOPATH)/bin
NATS_SERVER := $(GOBIN)/nats-server

.PHONY: test tools vet fmt-check bench demo compose-check load load-ci load-scale console-screenshot

## test: run every test against real Postgres and a pinned nats-server
test: tools
	go test -race -count=1 ./...

# SYSTEM_PACKAGES: command=Debian package, for what the tests run besides Go.
SYSTEM_PACKAGES := zbarimg=zbar-tools chromium=chromium chromedriver=chromium-driver

## tools: install the pinned nats-server the tests start, and the Debian
## packages they use (as root; otherwise it names the apt-get line)
tools:
	@bash scripts/system-packages.sh $(SYSTEM_PACKAGES)
	@$(NATS_SERVER) --version 2>/dev/null | grep -q '$(NATS_SERVER_VERSION)' || \
		GOBIN=$(GOBIN) go install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)

vet:
	go vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: the benchmarks whose figures docs/BENCHMARKS.md quotes
bench: tools
	go test -run '^$$' -bench . -benchtime 20000x ./internal/outbox/ ./internal/queue/ ./internal/send/
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/session/

## load: the full load and fault run (every scenario, on one server and on
## the nats-cluster and pg-standby setups; about ten minutes)
load: tools
	WABUS_NATS_SERVER=$(NATS_SERVER) go run ./cmd/wabus-load -out load-report.md

## load-ci: the short scenario set .ci/run runs (a few minutes)
load-ci: tools
	WABUS_NATS_SERVER=$(NATS_SERVER) go run ./cmd/wabus-load -short

## load-scale: restore time and memory per session, 2,000 tenants on one worker and 10,000 over four
load-scale: tools
	WABUS_NATS_SERVER=$(NATS_SERVER) go run ./cmd/wabus-load -scale -out load-scale.md

## console-screenshot: drive the web console in Chromium and save docs/console.png
console-screenshot: tools
	WABUS_CONSOLE_SCREENSHOT=$(CURDIR)/docs/console.png go test -count=1 -run '^TestConsole$$' ./internal/admin/

## demo: the whole system on this machine with the simulator (no phone): pair, send, receive
demo: tools
	NATS_SERVER=$(NATS_SERVER) bash scripts/demo.sh

## compose-check: validate docker-compose.yml, alone and with the NATS
## cluster override, with the example environment
compose-check:
	docker-compose -f docker-compose.yml --env-file .env.example config -q
	docker-compose -f docker-compose.yml -f deploy/compose.cluster.yml --env-file .env.example config -q

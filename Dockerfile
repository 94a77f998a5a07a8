# syntax=docker/dockerfile:1
# wabus: one image with both processes. Run the worker with
#   docker run IMAGE wabus-worker
# and admin with
#   docker run IMAGE wabus-admin
# (docker-compose.yml does both). Configuration is the environment (WA_*).

ARG GO_VERSION=1.26

# ---- build: static binaries, no cgo ----
FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
# modules first, so that a code change does not download them again
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/wabus-worker ./cmd/worker && \
    go build -ldflags="-s -w" -o /out/wabus-admin ./cmd/admin && \
    go build -ldflags="-s -w" -o /out/healthcheck ./deploy/healthcheck

# ---- runtime: distroless static (CA certificates, tzdata, no shell), non-root ----
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# nonroot's numeric id, so that runAsNonRoot policies can verify it
USER 65532:65532
# admin's HTTP API; the worker's /metrics, /healthz and /readyz
EXPOSE 8080 9090
ENV WA_LOG_FORMAT=json
CMD ["/usr/local/bin/wabus-worker"]

# syntax=docker/dockerfile:1
#
# herald's container image: one static binary on distroless, running as
# nonroot, with its SQLite database in the volume /data (docs/release.md).
#
#   docker build --build-arg VERSION=1.2.3 -t herald:1.2.3 .
#   docker run -d -p 8080:8080 -v herald-data:/data \
#     -e HERALD_ADMIN_KEY_FILE=/run/secrets/herald-admin-key herald:1.2.3
#
# Configuration is by environment variable, as for the binary
# (docs/running.md): HERALD_ADDR and HERALD_DATABASE_URL have this image's
# defaults below, and `-e HERALD_DATABASE_URL=postgres://…` replaces the
# SQLite file. They are variables rather than flags of CMD so that
# overriding one with -e works (a flag would win over it), and so that
# `herald healthcheck` finds the port in HERALD_ADDR.

# The build runs on the builder's own platform and cross-compiles (no
# emulation with buildx --platform linux/arm64).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X github.com/heraldhq/herald.Version=${VERSION}" \
      -o /out/herald ./cmd/herald
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Nango-compatible webhook delivery service" \
      org.opencontainers.image.source="https://github.com/heraldhq/herald" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/herald /usr/local/bin/herald
# /data belongs to nonroot (65532), so that a named volume mounted there
# starts out writable; a bind mount must be writable by uid 65532.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
ENV HERALD_ADDR=0.0.0.0:8080 \
    HERALD_DATABASE_URL=sqlite:/data/herald.db
EXPOSE 8080
VOLUME ["/data"]
# distroless has no curl: the binary checks itself (GET /healthz on
# 127.0.0.1 at the port of HERALD_ADDR; exit 0 on 200, 1 otherwise).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/herald", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["serve"]

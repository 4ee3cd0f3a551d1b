# The container image that GoReleaser builds (.goreleaser.yaml,
# dockers_v2): the same image as ./Dockerfile, made from the binaries
# GoReleaser has already built instead of compiling again. Its build
# context holds one per platform, at $TARGETPLATFORM/herald
# (linux/amd64/herald, linux/arm64/herald); docs/release.md.

# distroless has no shell to make /data with: a throwaway stage does, on
# the builder's own platform (no emulation for arm64; only the empty
# directory is copied).
FROM --platform=$BUILDPLATFORM busybox:1.37 AS data
RUN mkdir /data

FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETPLATFORM
COPY $TARGETPLATFORM/herald /usr/local/bin/herald
COPY --from=data --chown=65532:65532 /data /data
USER nonroot:nonroot
ENV HERALD_ADDR=0.0.0.0:8080 \
    HERALD_DATABASE_URL=sqlite:/data/herald.db
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/herald", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["serve"]

# syntax=docker/dockerfile:1
#
# bulkguard in a container: MCP over stdio by default (docker run -i), or
# over HTTP with --transport http --listen 0.0.0.0:8080. The tag reaches
# `bulkguard version` through VERSION, since the build context has no VCS
# data:
#
#   docker build --build-arg VERSION=v1.2.3 -t bulkguard .
#   docker run -i --rm -e CLOSE_API_KEY -v bulkguard-state:/home/nonroot/.local/state bulkguard
#
# The base images are pinned (a version tag, the runtime also by digest);
# update them in a reviewed commit.

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" -o /out/bulkguard . && \
    mkdir -p /out/state/bulkguard

# distroless static: no shell, no package manager; the nonroot variant runs
# as uid 65532 with HOME /home/nonroot, where the audit log goes by default.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
LABEL io.modelcontextprotocol.server.name="io.github.bulkguard/bulkguard" \
      org.opencontainers.image.title="bulkguard" \
      org.opencontainers.image.description="Guarded Close CRM bulk deletes over MCP" \
      org.opencontainers.image.source="https://github.com/bulkguard/bulkguard" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/bulkguard /usr/local/bin/bulkguard
# The audit log's directory, owned by the runtime user: a volume mounted
# there starts with this ownership, so the log stays writable.
COPY --from=build --chown=65532:65532 /out/state /home/nonroot/.local/state
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/bulkguard"]

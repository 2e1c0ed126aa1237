# syntax=docker/dockerfile:1
# Multi-stage build: a static binary (CGO_ENABLED=0; SQLite is pure Go) on a
# distroless base, running as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/agentgate/agentgate/internal/app.Version=${VERSION}" \
      -o /out/agentgate ./cmd/agentgate \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/agentgate /usr/local/bin/agentgate
# The embedded SQLite database lives in /data (mount a volume there).
COPY --from=build --chown=65532:65532 /out/data /data
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=/data/agentgate.db
EXPOSE 3000
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/agentgate", "health"]
ENTRYPOINT ["/usr/local/bin/agentgate"]
CMD ["server"]

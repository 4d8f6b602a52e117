# Multi-stage build: a static, CGO-free binary (the SQLite driver is pure Go)
# on a distroless base, running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pixelgw ./cmd/pixelgw

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pixelgw /usr/local/bin/pixelgw
COPY configs/pixelgw.example.yaml /etc/pixelgw/pixelgw.yaml
# Inside a container the network namespace is the boundary: bind all
# interfaces, and keep 9090 unpublished.
ENV PIXELGW_API_LISTEN=:8081 PIXELGW_OPS_LISTEN=:9090
USER nonroot:nonroot
WORKDIR /var/lib/pixelgw
# edge, admin API, ops (bind ops privately in production)
EXPOSE 8080 8081 9090
ENTRYPOINT ["/usr/local/bin/pixelgw"]
CMD ["serve", "-config", "/etc/pixelgw/pixelgw.yaml"]

# The operator image (`turnout run`) for a registry. Build: docker build -t turnout:0.1.0 .
# Without a registry (no base images to pull), scripts/build-operator-image.sh
# builds the same image FROM scratch around a local binary; the tests run it
# the way manifests/03-deployment.yaml does.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p turnout

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/turnout /usr/local/bin/turnout
ENTRYPOINT ["/usr/local/bin/turnout"]
CMD ["run"]

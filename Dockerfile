# The operator image (`turnout run`). Build: docker build -t turnout:0.1.0 .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p turnout

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/turnout /usr/local/bin/turnout
ENTRYPOINT ["/usr/local/bin/turnout"]
CMD ["run"]

# Multi-stage build: a static-ish release binary on a slim, non-root runtime image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY bench ./bench
COPY src ./src
RUN cargo build --release --locked --bin waviot-support-bot

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app bot \
    && mkdir -p /app/data && chown bot /app/data
WORKDIR /app
COPY --from=build /src/target/release/waviot-support-bot /usr/local/bin/waviot-support-bot
COPY dialogues ./dialogues
COPY locales ./locales
USER bot
# Without REDIS_URL the bot keeps its state in /app/data/bot.db: mount a volume here.
VOLUME ["/app/data"]
# 8080: /healthz and /metrics (keep private); 8081: incoming webhooks (behind the HTTPS proxy).
EXPOSE 8080 8081
ENV HTTP_ADDR=0.0.0.0:8080 WEBHOOK_ADDR=0.0.0.0:8081
STOPSIGNAL SIGTERM
ENTRYPOINT ["waviot-support-bot"]
CMD ["run"]

# Leadzone — each recipe is a plain command you can also copy and run by hand.

db := env_var_or_default("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/leadzone")
test_db := "postgres://postgres@127.0.0.1:5432/postgres"

# Create the database if missing, migrate, and serve on LEADZONE_BIND (default 127.0.0.1:8080).
run:
    cargo run -p leadzone-api --bin leadzone -- serve

# Every test: unit, integration (real PostgreSQL) and end-to-end.
test:
    DATABASE_URL={{test_db}} cargo nextest run --workspace

# Apply migrations only.
migrate:
    cargo run -p leadzone-api --bin leadzone -- migrate

fmt:
    cargo fmt --all

# Formatting, clippy with warnings as errors, and the dependency rule.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    ! cargo tree -p leadzone-domain -e normal --prefix none | grep -E '^(tokio|sea-orm|sqlx|actix-web) '
    ! cargo tree -p leadzone-http -e normal --prefix none | grep -E '^leadzone-postgres '

# Drop and recreate the development database (asks Postgres, not the app).
db-reset:
    psql "{{db}}" -c 'select 1' >/dev/null 2>&1 && psql "$(echo {{db}} | sed 's#/[^/]*$#/postgres#')" -c "DROP DATABASE IF EXISTS $(basename {{db}}) WITH (FORCE)" || true
    cargo run -p leadzone-api --bin leadzone -- migrate

# Postgres in Docker, for machines without a local server.
db-up:
    docker compose -f deploy/compose.yaml up -d postgres

# Latency of GET /leads on 1.2 million leads (drops and recreates the database leadzone_bench).
bench-leads:
    cargo bench -p leadzone-api --bench leads

# 1,000,000 rows through the IMPORT job beside psql \copy and one INSERT per row.
bench-import:
    cargo bench -p leadzone-api --bench import

# A 1,000,000-row import and its export through each blob store (local folder, PostgreSQL, S3 via
# a local moto_server): time and the server's peak RSS.
bench-files:
    cargo bench -p leadzone-api --bench files

# 1,000 logins at concurrency 16 against a server process of its own: logins/s and the server's RSS.
bench-logins:
    cargo bench -p leadzone-api --bench logins

# A 10,000-recipient WhatsApp bulk against a local fake of the Graph API (pace limit off) and 1,000
# signed status callbacks at concurrency 16: messages/s, the bulk's own overhead, statuses/s.
bench-whatsapp:
    cargo bench -p leadzone-api --bench whatsapp

# 10,000 leads synced to a local HubSpot fake (100 ms per call): time and CPU; then 1,000 outbound
# webhook deliveries to a local receiver: deliveries/s.
bench-integrations:
    cargo bench -p leadzone-api --bench integrations

# No-op jobs claimed and completed per second with 4 workers.
bench-jobs:
    cargo bench -p leadzone-api --bench jobs

# A 60-result SEARCH against a local fake of Google Places answering in 150 ms per page: the job's
# own overhead (its wall time minus the fake's) per search.
bench-search:
    cargo bench -p leadzone-api --bench search

# 100 leads surveyed by 2 workers against an 11-page local site: pages/s and CPU per page and lead.
bench-survey:
    cargo bench -p leadzone-api --bench survey

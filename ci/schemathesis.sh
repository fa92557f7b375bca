#!/usr/bin/env bash
# Property-based contract testing: Schemathesis sends generated requests (valid and invalid) to the
# real server, built from this tree and started on a fresh database, for every operation of the
# OpenAPI document the server itself serves at /api/v1/openapi.json, and checks every answer against
# that document (status codes, response schemas, content types, headers, 5xx, auth enforcement,
# invalid input rejected, valid input accepted) and chains operations through links (stateful phase).
#
#   bash ci/schemathesis.sh          # from anywhere; exits non-zero on any failure
#
# Needs PostgreSQL as for the tests (README) and python3 with venv. Knobs (environment):
#   LEADZONE_CI_CACHE         where the virtualenv lives (default ~/.cache/leadzone-ci)
#   LEADZONE_ST_PG            server URL of PostgreSQL, no database (default postgres://postgres@127.0.0.1:5432)
#   LEADZONE_ST_MAX_EXAMPLES  generated cases per operation and phase (default 15)
#   LEADZONE_ST_SEED          the seed; fixed under CI=true so a CI run is reproducible, random otherwise
#   LEADZONE_ST_KEEP=1        keep the work folder (server log, document, JUnit reports)
#   LEADZONE_ST_BIN           a leadzone binary to run instead of building one (skips cargo)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

cache="${LEADZONE_CI_CACHE:-$HOME/.cache/leadzone-ci}"
venv="$cache/venv"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/leadzone-target}"
pg="${LEADZONE_ST_PG:-postgres://postgres@127.0.0.1:5432}"
db="leadzone_st_$$"
max_examples="${LEADZONE_ST_MAX_EXAMPLES:-15}"
if [[ -n "${LEADZONE_ST_SEED:-}" ]]; then
  seed="$LEADZONE_ST_SEED"
elif [[ "${CI:-}" == "true" ]]; then
  seed=20261130
else
  seed=$((RANDOM * 32768 + RANDOM))
fi

say() { printf '\n== schemathesis.sh: %s\n' "$*"; }
die() { printf 'schemathesis.sh: %s\n' "$*" >&2; exit 1; }
started=$SECONDS

# --- the tools: a virtualenv with the pinned versions, made anew when missing or out of date ---
want="$(sha256sum ci/requirements.txt | cut -d' ' -f1)"
if [[ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]] \
  || ! "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator' 2>/dev/null; then
  say "creating $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r ci/requirements.txt
  echo "$want" >"$venv/.requirements.sha256"
fi
"$venv/bin/st" --version

# --- the server binary ---
if [[ -n "${LEADZONE_ST_BIN:-}" ]]; then
  bin="$LEADZONE_ST_BIN"
else
  say "building the server (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  cargo build --quiet -p leadzone-api --bin leadzone
  bin="$CARGO_TARGET_DIR/debug/leadzone"
fi
[[ -x "$bin" ]] || die "no server binary at $bin"

# --- a fresh database and a server on a free port; both go away on exit, whatever happens ---
work="$(mktemp -d "${TMPDIR:-/tmp}/leadzone-st.XXXXXX")"
server_pid=""
st_pid=""
fake_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$st_pid" ]] && kill -0 "$st_pid" 2>/dev/null; then
    kill -TERM "$st_pid"
    wait "$st_pid" 2>/dev/null
  fi
  if [[ -n "$fake_pid" ]]; then
    kill -TERM "$fake_pid" 2>/dev/null
    wait "$fake_pid" 2>/dev/null
  fi
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [[ $rc -ne 0 && -s "$work/server.log" ]]; then
    echo "--- last lines of the server log ($work/server.log) ---" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  psql "$pg/postgres" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null \
    || echo "schemathesis.sh: could not drop database $db" >&2
  if [[ "${LEADZONE_ST_KEEP:-}" == "1" ]]; then
    echo "schemathesis.sh: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
admin_token="schemathesis-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# Connecting GOOGLE_MAPS checks the key with Google: a local stand-in answers instead.
fake_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 ci/fake_places.py "$fake_port" &
fake_pid=$!
say "starting the server on $base, database $db"
# Every optional surface is on, as in production: the admin API (its own token, second run below)
# and the Stripe and WhatsApp webhooks (otherwise they answer 404 to everything). No job workers: jobs stay
# PENDING, so nothing fetches the fuzzed websites of leads (no traffic beyond this machine).
env DATABASE_URL="$pg/$db" \
  LEADZONE_BIND="127.0.0.1:$port" \
  LEADZONE_DATA_DIR="$work/data" \
  LEADZONE_ENV=development \
  LEADZONE_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" \
  LEADZONE_ADMIN_TOKEN="$admin_token" \
  STRIPE_WEBHOOK_SECRET="whsec_schemathesis_only_for_this_run" \
  LEADZONE_ACCESS_TOKEN_TTL_SECS=3600 \
  LEADZONE_WORKERS=0 \
  LEADZONE_RATE_LIMIT_PER_MIN=0 \
  LEADZONE_HTTP_WORKERS=2 \
  GOOGLE_PLACES_BASE_URL="http://127.0.0.1:$fake_port" \
  WHATSAPP_BASE_URL="http://127.0.0.1:$fake_port/v21.0" \
  HUBSPOT_BASE_URL="http://127.0.0.1:$fake_port" \
  NOTION_BASE_URL="http://127.0.0.1:$fake_port" \
  WHATSAPP_APP_SECRET="whatsapp-app-secret-only-for-this-run" \
  WHATSAPP_VERIFY_TOKEN="whatsapp-verify-token-only-for-this-run" \
  RUST_LOG="${RUST_LOG:-warn}" \
  "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!

for i in $(seq 1 240); do
  kill -0 "$server_pid" 2>/dev/null || die "the server exited during start-up"
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == "200" ]] && break
  [[ $i -eq 240 ]] && die "the server was not ready within 120 s"
  sleep 0.5
done

# --- the document: served by the server, valid OpenAPI ---
say "fetching and validating $base/api/v1/openapi.json"
status="$(curl -s -o "$work/openapi.json" -w '%{http_code}' "$base/api/v1/openapi.json")"
[[ "$status" == "200" ]] || die "GET /api/v1/openapi.json answered $status, not 200"
"$venv/bin/openapi-spec-validator" "$work/openapi.json" || die "the served document is not valid OpenAPI (see above)"

# --- an account: the run's bearer token (the OWNER of a fresh tenant) ---
register="$(curl -s -w '\n%{http_code}' "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"schemathesis-$$@example.sa\",\"password\":\"correct horse 1\",\"name\":\"Schemathesis\",\"organizationName\":\"Schemathesis $$\"}")"
[[ "$(tail -n1 <<<"$register")" == "201" ]] || die "register failed: $register"
token="$(sed '$d' <<<"$register" | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')"

# --- the runs ---
# Common options. Checks: all of them (Schemathesis 4's default, named so a new default cannot
# silently drop one), including response_schema_conformance and status_code_conformance.
# --mode all: valid and invalid data. Phases: examples, coverage, fuzzing and stateful (links that
# the document declares or that Schemathesis infers from responses and Location headers).
# One worker: Schemathesis' workers are threads, and concurrent AST parsing in Hypothesis trips a
# CPython bug ("SystemError: AST constructor recursion depth mismatch", cpython#106905) on the
# Python 3.11 this machine has, which would fail the run for nothing the server did.
# Schemathesis runs in $work so its caches land there, not in the work tree.
st_run() {
  local name="$1" status=0
  shift
  say "schemathesis: $name (seed $seed, at most $max_examples cases per operation and phase)"
  # In the background with `wait`, so that Ctrl-C or a TERM stops the run at once (the trap below
  # ends Schemathesis too); its output goes to a log and, live, to this terminal. The log exists
  # before either starts, so `tail` never looks for it before the backgrounded run has made it.
  : >"$work/st-$name.log"
  (cd "$work" && exec "$venv/bin/st" --config-file "$repo/ci/schemathesis.toml" run "$work/openapi.json" \
    --url "$base" \
    --checks all \
    --mode all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --generation-database none \
    --workers 1 \
    --request-timeout 30 \
    --continue-on-failure \
    --report junit --report-junit-path "$work/junit-$name.xml" \
    --no-color \
    "$@") >"$work/st-$name.log" 2>&1 &
  st_pid=$!
  tail -n +1 -f --pid="$st_pid" "$work/st-$name.log" &
  local tail_pid=$!
  wait "$st_pid" || status=$?
  st_pid=""
  wait "$tail_pid" || true
  return "$status"
}

# 1. Every operation outside /admin/v1, as the tenant's OWNER.
# Excluded, each because it would end the run's session and turn every later request into a 401:
# - POST /api/v1/auth/logout: revokes the session whose token it is sent with (the run's token).
# Not excluded, though they touch credentials: /me/password (needs the current password, which the
# generator never knows; and it revokes only the user's other sessions), /me/2fa/* (enabling needs
# a valid TOTP code; 2FA gates logins, not existing tokens), /auth/refresh and /auth/switch-tenant
# (they mint new tokens and leave the run's one valid).
rc=0
st_run api -H "Authorization: Bearer $token" \
  --exclude-path-regex '^/admin/v1/' \
  --exclude-path /api/v1/auth/logout || rc=1

# 2. The platform-admin API with its own token, after run 1: it can suspend tenants and switch
# feature flags off, which would otherwise turn run 1's requests into 403s.
if "$venv/bin/python" -c 'import json, sys; sys.exit(0 if any(p.startswith("/admin/v1/") for p in json.load(open(sys.argv[1]))["paths"]) else 1)' "$work/openapi.json"; then
  st_run admin -H "Authorization: Bearer $admin_token" --include-path-regex '^/admin/v1/' || rc=1
fi

# 3. Logout last, with a session of its own: its first success revokes that session, and every
# later case must then get the documented 401.
second="$(curl -s "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"schemathesis-out-$$@example.sa\",\"password\":\"correct horse 1\",\"name\":\"Out\",\"organizationName\":\"Schemathesis out $$\"}" \
  | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')" || die "second register failed"
st_run logout -H "Authorization: Bearer $second" --include-path /api/v1/auth/logout || rc=1

# --- the summary: Schemathesis' own (operations, cases, time) for each run, then one line ---
say "summary"
for name in api admin logout; do
  log="$work/st-$name.log"
  [[ -f "$log" ]] || continue
  echo "run $name:"
  grep -E '^ +(Selected|Tested):|^ +[0-9]+ generated|^Seed:|^=+ .* in [0-9.]+s =+$' "$log" | sed 's/^ */  /' || true
done
echo "schemathesis.sh: $((SECONDS - started)) s in all (tools, build, start-up, runs)"
[[ $rc -eq 0 ]] || echo "schemathesis.sh: FAILED (see above; reproduce with LEADZONE_ST_SEED=$seed bash ci/schemathesis.sh)" >&2
# Last, the plain count (JUnit test cases: one per operation, plus the stateful scenarios).
"$venv/bin/python" - "$work" <<'PY'
import glob, sys
import xml.etree.ElementTree as ET
passed = failed = 0
for path in glob.glob(f"{sys.argv[1]}/junit-*.xml"):
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
print(f"schemathesis: {passed} passed, {failed} failed")
PY
exit "$rc"

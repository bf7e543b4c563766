#!/usr/bin/env bash
# Back up OpenDCP: the whole PostgreSQL database (public + every tenant schema) in pg_dump's
# custom format, a tarball of MEDIA_ROOT (local object storage) and a manifest (sha256 of each
# file, timestamp, schemas, Django migration heads per schema). See docs/operations.md.
#
#   scripts/backup.sh [--out DIR] [--no-media]
#
# Environment: DATABASE_URL (default: the `make run` cluster), DCP_MEDIA_ROOT (default
# .local/media), PG_BIN (directory of pg_dump/psql; default: PostgreSQL 15's, else PATH).
# Prints the backup directory on the last line of stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/.local/backups"
WITH_MEDIA=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --no-media) WITH_MEDIA=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "backup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

DB_URL="${DATABASE_URL:-postgres://opendcp@127.0.0.1:${DCP_PG_PORT:-54329}/opendcp}"
MEDIA_ROOT="${DCP_MEDIA_ROOT:-${ROOT}/.local/media}"
if [[ -z "${PG_BIN:-}" ]]; then
  if [[ -x /usr/lib/postgresql/15/bin/pg_dump ]]; then PG_BIN=/usr/lib/postgresql/15/bin
  else PG_BIN="$(dirname "$(command -v pg_dump)")"; fi
fi
PSQL=("${PG_BIN}/psql" "${DB_URL}" -X -q -A -t -v ON_ERROR_STOP=1)

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
DEST="${OUT}/opendcp-${STAMP}"
[[ -e "${DEST}" ]] && DEST="${DEST}-$$"
mkdir -p "${DEST}"
chmod 700 "${DEST}"

echo "backup.sh: dumping database to ${DEST}/database.dump" >&2
"${PG_BIN}/pg_dump" --format=custom --compress=6 --no-owner --file="${DEST}/database.dump" "${DB_URL}"

if [[ "${WITH_MEDIA}" == 1 && -d "${MEDIA_ROOT}" ]]; then
  echo "backup.sh: archiving ${MEDIA_ROOT}" >&2
  tar -C "${MEDIA_ROOT}" -czf "${DEST}/media.tar.gz" .
fi

# Schemas and each schema's latest applied migration per app (the "migration heads").
"${PSQL[@]}" -c "SELECT schema_name FROM public.tenants_tenant ORDER BY 1" > "${DEST}/.schemas"
: > "${DEST}/.heads"
while read -r schema; do
  [[ -z "${schema}" ]] && continue
  "${PSQL[@]}" -F $'\t' -c "SELECT '${schema}', app, max(name) FROM \"${schema}\".django_migrations GROUP BY app ORDER BY app" >> "${DEST}/.heads"
done < "${DEST}/.schemas"
SERVER_VERSION="$("${PSQL[@]}" -c "SHOW server_version")"

python3 - "${DEST}" "${STAMP}" "${SERVER_VERSION}" "$("${PG_BIN}/pg_dump" --version)" <<'PY'
import hashlib, json, os, sys
dest, stamp, server, dump_version = sys.argv[1:5]
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
files = {}
for name in sorted(os.listdir(dest)):
    if name.startswith(".") or name == "manifest.json":
        continue
    path = os.path.join(dest, name)
    files[name] = {"sha256": sha256(path), "bytes": os.path.getsize(path)}
schemas = [s for s in open(os.path.join(dest, ".schemas")).read().split() if s]
heads = {}
for line in open(os.path.join(dest, ".heads")):
    if line.strip():
        schema, app, name = line.rstrip("\n").split("\t")
        heads.setdefault(schema, {})[app] = name
manifest = {
    "format": "opendcp-backup/1",
    "created_at": stamp,
    "postgres_server_version": server,
    "pg_dump_version": dump_version,
    "schemas": schemas,
    "migration_heads": heads,
    "files": files,
}
with open(os.path.join(dest, "manifest.json"), "w") as fh:
    json.dump(manifest, fh, indent=2, sort_keys=True)
for name in (".schemas", ".heads"):
    os.remove(os.path.join(dest, name))
PY
echo "backup.sh: done; manifest at ${DEST}/manifest.json" >&2
echo "${DEST}"

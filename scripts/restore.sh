#!/usr/bin/env bash
# Restore an OpenDCP backup (made by scripts/backup.sh) into a NEW database.
#
#   scripts/restore.sh BACKUP_DIR --target-url postgres://user@host:port/newdb [--media-root DIR]
#
# Checks every file against the manifest's sha256, creates the target database (it must not
# exist: restores never overwrite), runs pg_restore, compares each schema's migration heads with
# the manifest and unpacks the media tarball into --media-root (must be empty or absent).
# Afterwards verify the audit chains against the restored database:
#   DATABASE_URL=<target-url> .venv/bin/python manage.py verify_audit_chain
# Environment: PG_BIN (directory of pg_restore/psql; default PostgreSQL 15's, else PATH).
set -euo pipefail

usage() { sed -n '2,12p' "$0"; exit "${1:-2}"; }
BACKUP=""
TARGET=""
MEDIA_ROOT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --target-url) TARGET="$2"; shift 2 ;;
    --media-root) MEDIA_ROOT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "restore.sh: unknown option $1" >&2; usage ;;
    *) BACKUP="$1"; shift ;;
  esac
done
[[ -n "${BACKUP}" && -n "${TARGET}" ]] || usage
[[ -f "${BACKUP}/manifest.json" ]] || { echo "restore.sh: ${BACKUP}/manifest.json not found" >&2; exit 1; }
if [[ -z "${PG_BIN:-}" ]]; then
  if [[ -x /usr/lib/postgresql/15/bin/pg_restore ]]; then PG_BIN=/usr/lib/postgresql/15/bin
  else PG_BIN="$(dirname "$(command -v pg_restore)")"; fi
fi

echo "restore.sh: checking files against the manifest" >&2
python3 - "${BACKUP}" <<'PY'
import hashlib, json, os, sys
dest = sys.argv[1]
manifest = json.load(open(os.path.join(dest, "manifest.json")))
if manifest.get("format") != "opendcp-backup/1":
    sys.exit(f"restore.sh: unknown backup format {manifest.get('format')!r}")
for name, meta in manifest["files"].items():
    h = hashlib.sha256()
    with open(os.path.join(dest, name), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != meta["sha256"]:
        sys.exit(f"restore.sh: {name} does not match its sha256 in the manifest (corrupt backup)")
if "database.dump" not in manifest["files"]:
    sys.exit("restore.sh: the backup has no database.dump")
PY

# Split the target URL into the server (maintenance database "postgres") and the new name.
TARGET_DB="${TARGET##*/}"
TARGET_DB="${TARGET_DB%%\?*}"
SERVER_URL="${TARGET%/*}/postgres"
[[ "${TARGET_DB}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "restore.sh: bad database name ${TARGET_DB}" >&2; exit 1; }
PSQL_SERVER=("${PG_BIN}/psql" "${SERVER_URL}" -X -q -A -t -v ON_ERROR_STOP=1)
if [[ -n "$("${PSQL_SERVER[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '${TARGET_DB}'")" ]]; then
  echo "restore.sh: database ${TARGET_DB} already exists; restore into a new database" >&2
  exit 1
fi
if [[ -n "${MEDIA_ROOT}" && -d "${MEDIA_ROOT}" && -n "$(ls -A "${MEDIA_ROOT}")" ]]; then
  echo "restore.sh: media root ${MEDIA_ROOT} is not empty" >&2
  exit 1
fi

echo "restore.sh: creating ${TARGET_DB} and restoring" >&2
"${PSQL_SERVER[@]}" -c "CREATE DATABASE \"${TARGET_DB}\""
"${PG_BIN}/pg_restore" --no-owner --no-privileges --exit-on-error --jobs=2 \
  --dbname="${TARGET}" "${BACKUP}/database.dump"

echo "restore.sh: comparing migration heads with the manifest" >&2
PSQL_TARGET=("${PG_BIN}/psql" "${TARGET}" -X -q -A -t -v ON_ERROR_STOP=1)
HEADS="$(mktemp)"
trap 'rm -f "${HEADS}"' EXIT
for schema in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["schemas"]))' "${BACKUP}/manifest.json"); do
  "${PSQL_TARGET[@]}" -F $'\t' -c "SELECT '${schema}', app, max(name) FROM \"${schema}\".django_migrations GROUP BY app ORDER BY app" >> "${HEADS}"
done
python3 - "${BACKUP}/manifest.json" "${HEADS}" <<'PY'
import json, sys
expected = json.load(open(sys.argv[1]))["migration_heads"]
found = {}
for line in open(sys.argv[2]):
    if line.strip():
        schema, app, name = line.rstrip("\n").split("\t")
        found.setdefault(schema, {})[app] = name
if found != expected:
    sys.exit(f"restore.sh: migration heads differ from the manifest: {found} != {expected}")
PY

if [[ -n "${MEDIA_ROOT}" && -f "${BACKUP}/media.tar.gz" ]]; then
  echo "restore.sh: unpacking media into ${MEDIA_ROOT}" >&2
  mkdir -p "${MEDIA_ROOT}"
  tar -C "${MEDIA_ROOT}" -xzf "${BACKUP}/media.tar.gz"
fi
echo "restore.sh: restored into ${TARGET_DB}. Next: DATABASE_URL=<target-url> manage.py verify_audit_chain" >&2

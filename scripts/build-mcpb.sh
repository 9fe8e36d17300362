#!/usr/bin/env bash
# Builds bulkguard's MCP Bundles (.mcpb) for one-click install in Claude
# Desktop: one bundle per OS and architecture, each holding the binary
# server, LICENSE and README, with the Close API key as a sensitive
# user_config field. Every manifest is checked with the bundle tool from npm
# (pinned below) before it is packed.
#
#   scripts/build-mcpb.sh                          # this machine's OS/arch, into dist/
#   scripts/build-mcpb.sh --version 1.2.3 darwin/arm64 darwin/amd64 windows/amd64 linux/amd64
#   scripts/build-mcpb.sh --manifest-only --out DIR   # manifest.json only (tests)
#
# Needs Go, and Node.js with npx (the npm registry reachable the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

MCPB_CLI="@anthropic-ai/mcpb@2.1.2"
out=dist
version=""
manifest_only=false
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --manifest-only) manifest_only=true; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "build-mcpb: unknown option $1 (want --out DIR, --version X.Y.Z, --manifest-only)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ -z "$version" ]; then
  # The newest tag without its v, else a development version.
  version=$(git describe --tags --abbrev=0 2>/dev/null | sed 's/^v//' || true)
  version=${version:-0.0.0-dev}
fi
version=${version#v}
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "build-mcpb: --version $version: want a semantic version such as 1.2.3" >&2
  exit 2
fi
if [ ${#targets[@]} -eq 0 ]; then
  targets=("$(go env GOOS)/$(go env GOARCH)")
fi

# manifest writes the manifest for GOOS $1 to $2/manifest.json.
manifest() {
  local goos=$1 dir=$2 exe=bulkguard platform
  case "$goos" in
    darwin) platform=darwin ;;
    linux) platform=linux ;;
    windows) platform=win32; exe=bulkguard.exe ;;
    *) echo "build-mcpb: no Claude Desktop platform for GOOS $goos (want darwin, linux or windows)" >&2; exit 2 ;;
  esac
  mkdir -p "$dir"
  cat > "$dir/manifest.json" <<JSON
{
  "\$schema": "https://raw.githubusercontent.com/anthropics/mcpb/main/schemas/mcpb-manifest-v0.3.schema.json",
  "manifest_version": "0.3",
  "name": "bulkguard",
  "display_name": "bulkguard: guarded Close bulk deletes",
  "version": "$version",
  "description": "Close CRM bulk deletes behind a guard: preview, count, typed confirmation, audit log.",
  "long_description": "bulkguard lets Claude delete Close CRM leads or contacts in bulk without deleting what you did not mean to: every delete is previewed (count, sample, plain-English summary), you confirm by typing a phrase such as DELETE 42 LEADS, the count is checked again, and every step is written to an audit log. Leave the Close API key empty to try it on a built-in sandbox with demo data.",
  "author": { "name": "The bulkguard authors", "url": "https://github.com/bulkguard/bulkguard" },
  "repository": { "type": "git", "url": "https://github.com/bulkguard/bulkguard" },
  "homepage": "https://github.com/bulkguard/bulkguard",
  "documentation": "https://github.com/bulkguard/bulkguard#readme",
  "support": "https://github.com/bulkguard/bulkguard/issues",
  "license": "MIT",
  "keywords": ["close", "crm", "bulk delete", "guard", "audit"],
  "server": {
    "type": "binary",
    "entry_point": "server/$exe",
    "mcp_config": {
      "command": "\${__dirname}/server/$exe",
      "args": ["--confirm", "phrase"],
      "env": { "CLOSE_API_KEY": "\${user_config.close_api_key}" }
    }
  },
  "user_config": {
    "close_api_key": {
      "type": "string",
      "title": "Close API key",
      "description": "From Close → Settings → Developer → API Keys. Leave it empty to run on the built-in sandbox (demo data, nothing touches Close).",
      "sensitive": true,
      "required": false
    }
  },
  "tools": [
    { "name": "preview_bulk_delete", "description": "Counts and samples what a query or Smart View matches; deletes nothing." },
    { "name": "create_bulk_delete", "description": "Runs a previewed plan after the person types the confirmation phrase." },
    { "name": "list_bulk_deletes", "description": "Lists bulk-delete jobs." },
    { "name": "get_bulk_delete", "description": "A job and its progress, optionally waiting for it to finish." },
    { "name": "pause_bulk_delete", "description": "Pauses a running job." },
    { "name": "resume_bulk_delete", "description": "Resumes a paused job after the person confirms." },
    { "name": "lookup_close_ids", "description": "Ids of lead statuses, custom fields, Smart Views and users." },
    { "name": "restore_bulk_delete", "description": "Recreates what a bulk delete removed, from its backup, after a dry run and the person's confirmation." },
    { "name": "list_backups", "description": "Lists the backups taken before deletes." }
  ],
  "compatibility": { "platforms": ["$platform"] }
}
JSON
  echo "$exe"
}

# Resolved once: npx resolves the package on every call, which is slow.
mcpb=$(npx -y -p "$MCPB_CLI" -c 'command -v mcpb')

for target in "${targets[@]}"; do
  goos=${target%/*} goarch=${target#*/}
  if [ "$goos" = "$target" ] || [ -z "$goarch" ]; then
    echo "build-mcpb: target $target: want GOOS/GOARCH such as darwin/arm64" >&2
    exit 2
  fi
  stage="$out/mcpb/$goos-$goarch"
  rm -rf "$stage"
  exe=$(manifest "$goos" "$stage")
  "$mcpb" validate "$stage/manifest.json"
  if $manifest_only; then
    continue
  fi
  mkdir -p "$stage/server"
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=v$version" -o "$stage/server/$exe" .
  cp LICENSE README.md "$stage/"
  bundle="$out/bulkguard-$version-$goos-$goarch.mcpb"
  rm -f "$bundle"
  "$mcpb" pack "$stage" "$bundle"
  echo "$bundle sha256 $(sha256sum "$bundle" | cut -d' ' -f1)"
done

#!/usr/bin/env bash
# Runs the TypeScript and Python SDK test suites against the real server.
# Builds the Go binary once and hands it to both suites (AGENTGATE_BIN);
# each suite starts its own server on a temporary SQLite database.
#
#   sdk/test.sh               both suites
#   sdk/test.sh typescript    one of them
#   sdk/test.sh python
#
# A missing toolchain (node/npm, python3) is reported as "skipped: ..." and
# does not fail; a failing test does.
set -euo pipefail
cd "$(dirname "$0")/.."

which_suites="${1:-all}"
case "$which_suites" in all | typescript | python) ;; *)
  echo "usage: sdk/test.sh [all|typescript|python]" >&2
  exit 2
  ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "--> building the server (go build ./cmd/agentgate)"
go build -o "$tmp/agentgate" ./cmd/agentgate
export AGENTGATE_BIN="$tmp/agentgate"

failed=()

if [ "$which_suites" = all ] || [ "$which_suites" = typescript ]; then
  if ! command -v node >/dev/null 2>&1; then
    echo "skipped: node not found (TypeScript SDK tests)"
  elif ! command -v npm >/dev/null 2>&1; then
    echo "skipped: npm not found (TypeScript SDK tests)"
  elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "skipped: node $(node --version) is older than 20 (TypeScript SDK tests)"
  else
    echo "--> TypeScript SDK (node $(node --version), npm $(npm --version))"
    if (
      cd sdk/typescript
      if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
      else
        npm install --no-audit --no-fund --loglevel=error
      fi
      npm test --silent
    ); then :; else failed+=(typescript); fi
  fi
fi

if [ "$which_suites" = all ] || [ "$which_suites" = python ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "skipped: python3 not found (Python SDK tests)"
  elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
    echo "skipped: $(python3 --version) is older than 3.9 (Python SDK tests)"
  else
    echo "--> Python SDK ($(python3 --version))"
    # unittest prints no count of passes: print the plain summary line.
    if python3 - <<'PY'; then :; else failed+=(python); fi
import sys, unittest
suite = unittest.defaultTestLoader.discover("sdk/python/tests", top_level_dir="sdk/python/tests")
r = unittest.TextTestRunner(verbosity=2).run(suite)
bad = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
skipped = len(r.skipped)
print("python: %d passed, %d failed, %d skipped" % (r.testsRun - bad - skipped, bad, skipped))
sys.exit(0 if r.wasSuccessful() else 1)
PY
  fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "SDK tests FAILED: ${failed[*]}"
  exit 1
fi
echo "SDK tests passed"

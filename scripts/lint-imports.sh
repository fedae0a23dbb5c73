#!/usr/bin/env bash
# Checks the import contracts in pyproject.toml ([tool.importlinter]) on the installed layout.
# The component folders (crawlers/, matcher/, ...) install as lootwatch.crawlers, lootwatch.matcher, ...
# through setuptools' package-dir mapping; import-linter reads packages from the file system, so it is
# shown that layout as a tree of links under build/import-layout/. Called by `make lint` with the venv's bin dir.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.venv/bin}
[ $# -gt 0 ] && shift
root=build/import-layout
rm -rf "$root" && mkdir -p "$root/lootwatch"
for entry in lootwatch/*; do ln -s "$PWD/$entry" "$root/lootwatch/$(basename "$entry")"; done
for component in alerts crawlers matcher models workers; do ln -s "$PWD/$component" "$root/lootwatch/$component"; done
bin=$(cd "$bin" && pwd)
# lint-imports puts its working directory first on sys.path: run it from the link tree.
cd "$root" && "$bin/lint-imports" --no-cache ../../pyproject.toml "$@"

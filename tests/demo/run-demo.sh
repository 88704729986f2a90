#!/usr/bin/env bash
# make run: the demo. For now it shows the built binaries; the daemon and the
# station agents join it as they land (see docs/ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
for b in tramsyncd tramsync tramsyncctl; do bin/$b --version; done

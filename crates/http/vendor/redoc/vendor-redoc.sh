#!/usr/bin/env bash
# Re-vendors Redoc's standalone bundle from the npm registry into this folder (see README.md here).
# Usage: bash crates/http/vendor/redoc/vendor-redoc.sh [VERSION]   (then update REDOC_VERSION in docs.rs)
set -euo pipefail
version="${1:-2.5.2}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "redoc@${version}" >/dev/null)
tar -xzf "$work/redoc-${version}.tgz" -C "$work"
bundle="$work/package/bundles/redoc.standalone.js"
echo "upstream bundle sha256: $(sha256sum "$bundle" | cut -d' ' -f1)"

# Two edits, both exact (the script fails if the upstream text is not found exactly once):
# 1. the sidebar's "API docs by Redocly" link shows an <img> loaded from Redocly's CDN: render none,
#    so the page makes no request off this server (the link text stays);
# 2. drop the sourceMappingURL comment: the .map file is not shipped.
python3 - "$bundle" "$here/redoc.standalone.js" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
s = open(src, encoding="utf-8").read()
logo = 'e?n.createElement("img",{alt:"redocly logo",onError:()=>t(!1),src:"https://cdn.redoc.ly/redoc/logo-mini.svg"}):null'
assert s.count(logo) == 1, "the Redocly logo expression changed upstream: re-check the patch"
s = s.replace(logo, "null")
srcmap = "//# sourceMappingURL=redoc.standalone.js.map"
assert s.rstrip().endswith(srcmap), "the sourceMappingURL comment changed upstream"
s = s.rstrip()[: -len(srcmap)].rstrip() + "\n"
for banned in ("cdn.redoc.ly", "fonts.googleapis", "fonts.gstatic"):
    assert banned not in s, banned
open(dst, "w", encoding="utf-8").write(s)
PY
cp "$work/package/LICENSE" "$here/redoc.LICENSE"
cp "$work/package/bundles/redoc.standalone.js.LICENSE.txt" "$here/redoc.standalone.js.LICENSE.txt"
echo "vendored sha256:        $(sha256sum "$here/redoc.standalone.js" | cut -d' ' -f1)"

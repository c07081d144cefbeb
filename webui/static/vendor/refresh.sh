#!/usr/bin/env bash
# Re-fetch the vendored front-end libraries from the npm registry at the pinned versions.
#
# The UI must work with no internet access, so bpmn-js and friends are served from
# webui/static/vendor/. Change a version below, run this script (needs node + npm and
# the npm registry), look at the diff, commit. Only the distribution files we load are
# kept (no sources, no source maps); each package's licence is kept beside its files.
set -euo pipefail

BPMN_JS=18.31.1                  # viewer + modeler bundles (bpmn.io licence: keep the watermark)
PROPERTIES_PANEL=5.65.1          # bpmn-js-properties-panel UMD bundle (includes preact & co)
PANEL_CSS=3.55.0                 # @bpmn-io/properties-panel: the CSS the 5.65.1 bundle was built with
CAMUNDA_MODDLE=8.0.1             # camunda:formData, candidateGroups, properties ...
TERSER=5.51.4                    # only to minify the 2.5 MB properties-panel bundle

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION -> unpacks into $work/NAME
    local name="$1" version="$2" dir="$work/${1//\//_}"
    mkdir -p "$dir"
    (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
    tar xzf "$work"/$(echo "$name" | sed 's#^@##; s#/#-#')-"$version".tgz -C "$dir"
    echo "$dir/package"
}

bj="$(fetch bpmn-js "$BPMN_JS")"
pp="$(fetch bpmn-js-properties-panel "$PROPERTIES_PANEL")"
pc="$(fetch @bpmn-io/properties-panel "$PANEL_CSS")"
cm="$(fetch camunda-bpmn-moddle "$CAMUNDA_MODDLE")"

rm -rf "$here/bpmn-js" "$here/bpmn-js-properties-panel" "$here/camunda-bpmn-moddle"

d="$here/bpmn-js"
mkdir -p "$d/assets/bpmn-font/css" "$d/assets/bpmn-font/font"
cp "$bj/LICENSE" "$d/LICENSE"
cp "$bj/dist/bpmn-navigated-viewer.production.min.js" "$bj/dist/bpmn-modeler.production.min.js" "$d/"
cp "$bj/dist/assets/bpmn-js.css" "$bj/dist/assets/diagram-js.css" "$d/assets/"
cp "$bj/dist/assets/bpmn-font/css/bpmn.css" "$d/assets/bpmn-font/css/"
# Every browser we support takes woff2 or woff; the eot/ttf/svg fallbacks are left out.
cp "$bj/dist/assets/bpmn-font/font/bpmn.woff2" "$bj/dist/assets/bpmn-font/font/bpmn.woff" "$d/assets/bpmn-font/font/"

d="$here/bpmn-js-properties-panel"
mkdir -p "$d"
cp "$pp/LICENSE" "$d/LICENSE"
cp "$pc/LICENSE" "$d/LICENSE.properties-panel"
cp "$pc/preact/LICENSE" "$d/LICENSE.preact"
cp "$pc/dist/assets/properties-panel.css" "$d/properties-panel.css"
(cd "$work" && npx --yes "terser@$TERSER" "$pp/dist/bpmn-js-properties-panel.umd.js" \
    --compress --mangle --comments some --output "$d/bpmn-js-properties-panel.umd.min.js")

d="$here/camunda-bpmn-moddle"
mkdir -p "$d"
cp "$cm/LICENSE" "$d/LICENSE"
cp "$cm/resources/camunda.json" "$d/camunda.json"

cat > "$here/VERSIONS" <<VERSIONS
# Written by refresh.sh; the versions served from this folder.
bpmn-js $BPMN_JS
bpmn-js-properties-panel $PROPERTIES_PANEL
@bpmn-io/properties-panel $PANEL_CSS (CSS only)
camunda-bpmn-moddle $CAMUNDA_MODDLE
VERSIONS
echo "vendored into $here"; du -sh "$here"

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
BPMNLINT=11.15.0                 # the lint rules the server ports (engine/processes/lint.py); 12.x needs
                                 # @bpmn-io/lint-core, which the registry does not serve
BPMN_JS_BPMNLINT=0.24.0          # draws bpmnlint's findings on the modeler's elements
ESBUILD=0.28.2                   # only to bundle the two above (CommonJS) for the browser
DMN_JS=17.10.2                   # the decision table editor (same licence as bpmn-js)

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

dj="$(fetch dmn-js "$DMN_JS")"

rm -rf "$here/bpmn-js" "$here/bpmn-js-properties-panel" "$here/camunda-bpmn-moddle" "$here/bpmnlint" "$here/dmn-js"

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

# bpmnlint + bpmn-js-bpmnlint: one browser bundle exposing window.BpmnLint = {lintModule,
# ruleNames, config(table, extraRules)}; the modeler builds its configuration from the server's
# rule table (engine.processes.lint.RULES) and adds opsgate's own rules (js/lint_rules.js).
b="$work/lint-build"
mkdir -p "$b"
(cd "$b" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
    "bpmnlint@$BPMNLINT" "bpmn-js-bpmnlint@$BPMN_JS_BPMNLINT" "bpmn-js@$BPMN_JS" "esbuild@$ESBUILD")
rules=$(cd "$b/node_modules/bpmnlint/rules" && ls *.js | grep -v '^helper.js$' | sed 's/\.js$//')
{
    echo "import lintModule from 'bpmn-js-bpmnlint';"
    echo "import StaticResolver from 'bpmnlint/lib/resolver/static-resolver';"
    i=0; for r in $rules; do echo "import r$i from 'bpmnlint/rules/$r';"; i=$((i+1)); done
    echo "const rules = {};"
    i=0; for r in $rules; do echo "rules['$r'] = r$i;"; i=$((i+1)); done
    cat <<'ENTRY'
window.BpmnLint = {
  lintModule: lintModule,
  ruleNames: Object.keys(rules),
  config: function (table, extraRules) {
    var cache = {};
    Object.keys(rules).forEach(function (name) { cache['rule:bpmnlint/' + name] = rules[name]; });
    Object.keys(extraRules || {}).forEach(function (name) {
      var parts = name.split('/');  // "opsgate/x" is plugin bpmnlint-plugin-opsgate; "bpmnlint/x" replaces a rule
      var pkg = parts[0] === 'bpmnlint' ? 'bpmnlint' : 'bpmnlint-plugin-' + parts[0];
      cache['rule:' + pkg + '/' + parts[1]] = extraRules[name];
    });
    return { config: { rules: table }, resolver: new StaticResolver(cache) };
  }
};
ENTRY
} > "$b/entry.js"
d="$here/bpmnlint"
mkdir -p "$d"
(cd "$b" && ./node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --legal-comments=eof \
    --outfile="$d/bpmnlint.min.js")
cp "$b/node_modules/bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css" "$d/bpmn-js-bpmnlint.css"
cp "$b/node_modules/bpmnlint/LICENSE" "$d/LICENSE.bpmnlint"
cp "$b/node_modules/bpmn-js-bpmnlint/LICENSE" "$d/LICENSE.bpmn-js-bpmnlint"
for dep in bpmnlint-utils min-dash min-dom; do cp "$b/node_modules/$dep/LICENSE" "$d/LICENSE.$dep"; done
echo "$rules" > "$d/rules.txt"

d="$here/dmn-js"
mkdir -p "$d/assets/dmn-font/css" "$d/assets/dmn-font/font"
cp "$dj/LICENSE" "$d/LICENSE"
cp "$dj/dist/dmn-modeler.production.min.js" "$d/"
for css in diagram-js dmn-js-shared dmn-js-drd dmn-js-decision-table dmn-js-decision-table-controls \
           dmn-js-literal-expression dmn-js-boxed-expression dmn-js-boxed-expression-controls; do
    cp "$dj/dist/assets/$css.css" "$d/assets/"
done
cp "$dj/dist/assets/dmn-font/css/dmn.css" "$d/assets/dmn-font/css/"
cp "$dj/dist/assets/dmn-font/font/dmn.woff2" "$dj/dist/assets/dmn-font/font/dmn.woff" "$d/assets/dmn-font/font/"

cat > "$here/VERSIONS" <<VERSIONS
# Written by refresh.sh; the versions served from this folder.
bpmn-js $BPMN_JS
bpmn-js-properties-panel $PROPERTIES_PANEL
@bpmn-io/properties-panel $PANEL_CSS (CSS only)
camunda-bpmn-moddle $CAMUNDA_MODDLE
bpmnlint $BPMNLINT (bundled with bpmn-js-bpmnlint $BPMN_JS_BPMNLINT by esbuild $ESBUILD)
dmn-js $DMN_JS
VERSIONS
echo "vendored into $here"; du -sh "$here"

#!/usr/bin/env bash
# Vendor the browser assets the book needs (so no page asks a CDN for them):
#   require.js                      (requirejs; the widget manager is an AMD module)
#   html-manager/embed-amd.js       (@jupyter-widgets/html-manager: renders widget state)
#   html-manager/*.woff2            (Font Awesome fonts it loads next to itself, for icons)
#   mathjax/tex-mml-chtml.js        (MathJax 3, es5 build, the component Sphinx uses)
#   mathjax/output/chtml/fonts/woff-v2/  (its fonts)
#   mathjax/input/tex/extensions/   (TeX packages it autoloads, e.g. \boldsymbol, \color)
# plus each package's license, into book/_vendor/ (git-ignored; _config.yml points
# html_static_path, mathjax_path and nb_ipywidgets_js at it).
#
# Versions are pinned in scripts/js/package.json + package-lock.json; `npm ci` runs in
# build/js/ (git-ignored). Idempotent: exits at once when book/_vendor/.stamp matches
# the hash of the lockfile and of this script.
#
# Usage: scripts/vendor_js.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK_DIR="$ROOT/scripts/js"
BUILD_DIR="$ROOT/build/js"
VENDOR="$ROOT/book/_vendor"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
WANT="$(hash_of "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" "${BASH_SOURCE[0]}")"

# Files whose absence means the vendor folder is broken even if the stamp matches.
REQUIRED=(require.js html-manager/embed-amd.js mathjax/tex-mml-chtml.js)
if [[ $FORCE -eq 0 && -f "$VENDOR/.stamp" && "$(cat "$VENDOR/.stamp")" == "$WANT" ]]; then
  ok=1
  for f in "${REQUIRED[@]}"; do [[ -f "$VENDOR/$f" ]] || ok=0; done
  if [[ $ok -eq 1 ]]; then
    echo "vendor_js: book/_vendor is up to date"
    exit 0
  fi
fi

command -v npm >/dev/null || { echo "vendor_js: npm not found (apt-get install npm)" >&2; exit 1; }

# 1. Install the pinned packages (skipped when build/js already holds this lockfile).
NPM_HASH="$(hash_of "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json")"
if [[ $FORCE -eq 1 || ! -f "$BUILD_DIR/.npm-stamp" || "$(cat "$BUILD_DIR/.npm-stamp")" != "$NPM_HASH" ]]; then
  mkdir -p "$BUILD_DIR"
  cp "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" "$BUILD_DIR/"
  echo "vendor_js: npm ci in build/js"
  (cd "$BUILD_DIR" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
  echo "$NPM_HASH" > "$BUILD_DIR/.npm-stamp"
fi
NM="$BUILD_DIR/node_modules"

# 2. Copy only what the pages load, into a temporary folder, then swap it in.
TMP="$(mktemp -d "$ROOT/book/.vendor.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

HM="$NM/@jupyter-widgets/html-manager"
MJ="$NM/mathjax/es5"

install -D -m 644 "$NM/requirejs/require.js" "$TMP/require.js"
install -D -m 644 "$HM/dist/embed-amd.js" "$TMP/html-manager/embed-amd.js"
# embed-amd.js loads its Font Awesome fonts from its own folder (webpack public path =
# the script's URL); browsers take woff2 first, so eot/ttf/svg/woff are left out.
cp "$HM"/dist/*.woff2 "$TMP/html-manager/"
install -D -m 644 "$MJ/tex-mml-chtml.js" "$TMP/mathjax/tex-mml-chtml.js"
mkdir -p "$TMP/mathjax/output/chtml/fonts" "$TMP/mathjax/input/tex"
cp -r "$MJ/output/chtml/fonts/woff-v2" "$TMP/mathjax/output/chtml/fonts/"
cp -r "$MJ/input/tex/extensions" "$TMP/mathjax/input/tex/"

# Licenses travel with the redistributed files.
mkdir -p "$TMP/licenses"
for pkg in requirejs @jupyter-widgets/html-manager mathjax; do
  name="${pkg##*/}"
  for lic in LICENSE LICENSE.md LICENSE.txt; do
    [[ -f "$NM/$pkg/$lic" ]] && cp "$NM/$pkg/$lic" "$TMP/licenses/$name-$lic"
  done
done
node -e '
  const fs = require("fs"), path = require("path");
  const nm = process.argv[1];
  const out = ["requirejs", "@jupyter-widgets/html-manager", "mathjax"].map(p => {
    const j = JSON.parse(fs.readFileSync(path.join(nm, p, "package.json")));
    return `${j.name}@${j.version} (${j.license})`;
  });
  fs.writeFileSync(process.argv[2], out.join("\n") + "\n");
' "$NM" "$TMP/VERSIONS.txt"

echo "$WANT" > "$TMP/.stamp"
chmod -R u+rwX,go+rX "$TMP"
rm -rf "$VENDOR"
mv "$TMP" "$VENDOR"
trap - EXIT
echo "vendor_js: wrote book/_vendor ($(du -sh "$VENDOR" | cut -f1))"

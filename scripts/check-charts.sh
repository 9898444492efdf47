#!/usr/bin/env bash
# Checks the report's charts with the real renderers, and keeps what they drew in target/charts/:
#   1. a real load test (local backend, the built-in generator against a server on 127.0.0.1)
#      writes its job summary and an HTML report;
#   2. Mermaid itself (npm, pinned in tests/render) parses and renders every Mermaid block of that
#      summary and of the report fixtures (tests/fixtures/report) in Debian's headless Chromium;
#      a block that does not parse fails the check. The summary's charts are kept as
#      target/charts/summary-charts.png;
#   3. the HTML report is opened in headless Chromium with no network at all (a network namespace
#      of its own) and must show its two charts: target/charts/report.png.
# Installs Chromium and the npm packages when they are missing; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/charts
mkdir -p "$out"
rm -f "$out"/*

if ! command -v chromium >/dev/null; then
  echo "Installing Chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  echo "Installing Node.js and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
stamp=tests/render/node_modules/.installed-from-lock
if ! cmp -s tests/render/package-lock.json "$stamp" 2>/dev/null; then
  (cd tests/render && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/render/package-lock.json "$stamp"
fi

chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d)" --allow-file-access-from-files "$@" 2>/dev/null
}

# 1. A real run, with the binary the tests' build made (target/debug/ecs-loadtest): a plain
# `cargo build` would compile much of the graph again, without the tests' dev-dependency
# features. Nothing is compiled when the test command's build is there.
cargo test --quiet --locked --all-targets --no-run
serve=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$serve"' EXIT
echo ok >"$serve/index.html"
source scripts/target-server.sh
start_target_server "$serve"
GITHUB_STEP_SUMMARY=$out/summary.md target/debug/ecs-loadtest run --backend local \
  --context "$serve" --target-url "http://127.0.0.1:$port/" --task-count 2 \
  --stages '6s:80, 6s:80, 6s:0' --thresholds 'error_rate < 1%' \
  --report-file "$out/report.html" >"$out/run.log" 2>&1 || {
  echo "The load test for the chart check failed:"
  tail -40 "$out/run.log"
  exit 1
}

# 2. Every Mermaid block through Mermaid: the real summary's first, then the fixtures'.
python3 - "$root" "$out" tests/fixtures/report/*.md <<'PY'
import json, re, sys
root, out = sys.argv[1], sys.argv[2]
sources = [out + "/summary.md"] + sys.argv[3:]
blocks = []
for source in sources:
    text = open(source, encoding="utf-8").read()
    for index, code in enumerate(re.findall(r"```mermaid\n(.*?)```", text, re.S)):
        blocks.append({"name": f"{source.split('/')[-1]} #{index + 1}", "code": code,
                       "shown": source.endswith("/summary.md")})
if not any(block["shown"] for block in blocks):
    sys.exit("the real run's job summary has no Mermaid chart")
page = """<!DOCTYPE html><html><head><meta charset="utf-8">
<script src="%s/tests/render/node_modules/mermaid/dist/mermaid.min.js"></script></head>
<body style="width:900px"><div id="charts"></div><pre id="status">RUNNING</pre><script>
const blocks = %s;
mermaid.initialize({ startOnLoad: false });
(async () => {
  const lines = [];
  for (const [index, block] of blocks.entries()) {
    try {
      await mermaid.parse(block.code);
      const { svg } = await mermaid.render("chart" + index, block.code);
      if (block.shown) document.getElementById("charts").insertAdjacentHTML("beforeend", svg);
      lines.push("OK " + block.name);
    } catch (error) {
      lines.push("ERROR " + block.name + ": " + (error && error.message || error));
    }
  }
  document.getElementById("status").textContent = lines.join("\\n") + "\\nDONE";
})();
</script></body></html>""" % (root, json.dumps(blocks))
open(out + "/mermaid-check.html", "w", encoding="utf-8").write(page)
PY
chrome --virtual-time-budget=30000 --dump-dom "file://$out/mermaid-check.html" >"$out/mermaid-check.dom"
python3 - "$out/mermaid-check.dom" <<'PY'
import html, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
status = re.search(r'<pre id="status">(.*?)</pre>', dom, re.S)
lines = html.unescape(status.group(1)).splitlines() if status else ["no status: the page did not run"]
for line in lines:
    print("  mermaid:", line)
if lines[-1:] != ["DONE"] or any(line.startswith("ERROR") for line in lines) or len(lines) < 3:
    sys.exit("Mermaid did not accept every chart")
PY
chrome --virtual-time-budget=30000 --window-size=900,1300 \
  --screenshot="$out/summary-charts.png" "file://$out/mermaid-check.html" >/dev/null

# 3. The HTML report, offline.
unshare --net chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$(mktemp -d)" --dump-dom "file://$out/report.html" 2>/dev/null >"$out/report.dom"
figures=$(grep -o '<figure><svg' "$out/report.dom" | wc -l)
if [ "$figures" -ne 2 ]; then
  echo "The HTML report shows $figures charts offline, not 2"
  exit 1
fi
unshare --net chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$(mktemp -d)" --window-size=1000,2000 \
  --screenshot="$out/report.png" "file://$out/report.html" >/dev/null 2>&1
echo "Charts checked: Mermaid accepted every block; the HTML report shows its 2 charts offline."
echo "Pictures: target/charts/summary-charts.png, target/charts/report.png"

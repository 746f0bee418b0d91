// The status page served at / by the HTTP admin listener: one HTML file
// with its CSS and script inline (no external assets: the appliance's
// admin network may reach nothing else). It polls /api/status and
// /api/servers every 2 s and redraws. It changes nothing unless lbd has an
// admin token (global.admin.http_token): then each server row offers drain,
// enable and maint, and the page asks for the token once per browser
// session and sends it as a Bearer token.
#pragma once

namespace lbd {

inline constexpr const char* kStatusPageHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lbd status</title>
<style>
  :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fb;
          --up:#067647; --down:#b42318; --drain:#b54708; --maint:#475467; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; gap:24px; align-items:baseline; padding:16px 24px; background:#fff; border-bottom:1px solid var(--line); }
  header h1 { font-size:18px; margin:0; }
  header .meta { color:var(--muted); }
  main { padding:16px 24px; }
  h2 { font-size:15px; margin:20px 0 8px; }
  table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
  th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
  td.num { text-align:right; font-variant-numeric: tabular-nums; }
  .state { display:inline-block; min-width:56px; padding:1px 8px; border-radius:10px; color:#fff; font-weight:600; font-size:12px; text-align:center; }
  .UP { background:var(--up); } .DOWN { background:var(--down); } .DRAIN { background:var(--drain); } .MAINT { background:var(--maint); }
  #error { color:var(--down); margin-left:auto; }
  button { font:inherit; font-size:12px; padding:1px 8px; margin-right:4px; border:1px solid var(--line); border-radius:6px; background:#fff; cursor:pointer; }
  button:hover { border-color:var(--muted); }
</style>
</head>
<body>
<header>
  <h1>lbd</h1>
  <span class="meta" id="summary">loading…</span>
  <span id="error"></span>
</header>
<main>
  <h2>Listeners</h2>
  <table id="listeners"><thead><tr><th>Name</th><th>Bind</th><th>Mode</th><th>Pool</th><th>Active</th><th>Accepted</th></tr></thead><tbody></tbody></table>
  <h2>Servers</h2>
  <table id="servers"><thead><tr><th>Pool</th><th>Server</th><th>Address</th><th>State</th><th>Weight</th><th>Active</th><th>Total</th><th>Connect fails</th><th>Last change</th><th class="actions" hidden>Actions</th></tr></thead><tbody></tbody></table>
</main>
<script>
"use strict";
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
async function act(server, action) {
  let token = sessionStorage.getItem("lbd-token");
  if (!token) { token = prompt("lbd admin token"); if (!token) return; }
  const r = await fetch("/api/servers/" + server + "/" + action, { method: "POST", headers: { "Authorization": "Bearer " + token } });
  if (r.status === 401) { sessionStorage.removeItem("lbd-token"); document.getElementById("error").textContent = "wrong admin token"; return; }
  sessionStorage.setItem("lbd-token", token);
  refresh();
}
function ago(ms) {
  if (!ms) return "";
  let s = Math.max(0, Math.round((Date.now() - Number(ms)) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); s %= 60;
  return (h ? h + "h" : "") + (h || m ? m + "m" : "") + s + "s ago";
}
async function refresh() {
  try {
    const [st, sv] = await Promise.all([fetch("/api/status").then(r => r.json()), fetch("/api/servers").then(r => r.json())]);
    const s = st.status;
    document.getElementById("summary").textContent =
      `version ${s.version} · role ${s.role} · ${s.workers} worker${s.workers == 1 ? "" : "s"}` +
      ` (connections ${(s.worker_connections || []).join(", ")}) · up ${Math.round(Number(s.uptime_ms) / 1000)} s · pid ${s.pid}`;
    const lb = document.querySelector("#listeners tbody"); lb.replaceChildren();
    for (const l of s.listeners) {
      const r = lb.insertRow();
      cell(r, l.name); cell(r, l.bind); cell(r, l.mode); cell(r, l.pool);
      cell(r, l.active_connections, "num"); cell(r, l.accepted_connections, "num");
    }
    const sb = document.querySelector("#servers tbody"); sb.replaceChildren();
    for (const v of sv.servers.servers) {
      const r = sb.insertRow();
      r.dataset.server = v.pool + "/" + v.name;
      cell(r, v.pool); cell(r, v.name); cell(r, v.address);
      const badge = document.createElement("span"); badge.className = "state " + v.state; badge.textContent = v.state;
      r.insertCell().appendChild(badge);
      cell(r, v.weight, "num"); cell(r, v.active_connections, "num"); cell(r, v.total_connections, "num");
      cell(r, v.connect_failures, "num"); cell(r, ago(v.last_change_unix_ms));
      if (s.http_writes_enabled) {
        const td = r.insertCell();
        for (const action of ["drain", "enable", "maint"]) {
          const b = document.createElement("button"); b.textContent = action;
          b.onclick = () => act(v.pool + "/" + v.name, action);
          td.appendChild(b);
        }
      }
    }
    for (const th of document.querySelectorAll("th.actions")) th.hidden = !s.http_writes_enabled;
    document.getElementById("error").textContent = "";
    document.body.dataset.loaded = "true";
  } catch (e) {
    document.getElementById("error").textContent = "lbd unreachable: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)HTML";

}  // namespace lbd

/**
 * The trace view at `/docs/traces`: a list of kept traces and a waterfall of one trace's spans
 * and events. Plain HTML, CSS and JavaScript served by this plugin (assets/), nothing from a
 * CDN. URLs are relative, so the page also works behind a proxy that adds a path prefix.
 */
export function tracesPage(title = 'Gatehouse traces'): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="traces/assets/traces.css">
</head>
<body>
<header>
  <h1>Gatehouse <span>traces</span></h1>
  <nav><a href="../docs">API docs</a></nav>
</header>
<form id="filters" autocomplete="off">
  <label>Status <select name="status"><option value="">any</option><option>OK</option><option>ERROR</option></select></label>
  <label>Min duration (ms) <input name="min_duration_ms" type="number" min="0" step="1" placeholder="0"></label>
  <label>Endpoint <input name="endpoint" type="text" placeholder="any"></label>
  <label>Limit <input name="limit" type="number" min="1" max="500" value="50"></label>
  <label class="key">Admin key <input name="key" type="password" placeholder="only if the gateway asks for one"></label>
  <button type="submit">Refresh</button>
</form>
<p id="message" role="status"></p>
<main>
  <section id="list-pane">
    <table id="trace-list">
      <thead><tr><th>Started</th><th>Endpoint</th><th>Status</th><th class="num">Duration</th><th>Trace id</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="detail" hidden>
    <div id="trace-summary"></div>
    <div id="waterfall" aria-label="Waterfall of the trace's spans"></div>
    <div id="span-detail"></div>
  </section>
</main>
<script src="traces/assets/traces.js"></script>
</body>
</html>
`;
}

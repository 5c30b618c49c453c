// The trace view: lists kept traces (GET ../api/gatehouse/traces) and draws one trace's spans
// as a waterfall (GET ../api/gatehouse/traces/{id}). No framework, no CDN; every value from a
// trace is written with textContent, never as HTML.
(function () {
  'use strict';
  var API = '../api/gatehouse/traces';
  var form = document.getElementById('filters');
  var message = document.getElementById('message');
  var listBody = document.querySelector('#trace-list tbody');
  var detail = document.getElementById('detail');
  var current = null;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else if (k === 'style') e.setAttribute('style', attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }

  function say(text, isError) {
    message.textContent = text || '';
    message.className = isError ? 'error' : '';
  }

  function ms(v) {
    if (v === null || v === undefined) return '';
    if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
    if (v >= 10) return v.toFixed(0) + ' ms';
    return v.toFixed(2) + ' ms';
  }

  var storedKey = sessionStorage.getItem('gatehouse.traces.key') || '';
  form.elements.key.value = storedKey;

  function api(path) {
    var key = form.elements.key.value.trim();
    var headers = { accept: 'application/json' };
    if (key) headers.authorization = 'Bearer ' + key;
    return fetch(path, { headers: headers }).then(function (res) {
      return res.text().then(function (text) {
        var body;
        try { body = JSON.parse(text); } catch (e) { body = text; }
        if (!res.ok) {
          var detailText = body && (body.message || body.detail || (body.error && body.error.message)) || text;
          throw new Error(res.status + ': ' + (typeof detailText === 'string' ? detailText : JSON.stringify(detailText)));
        }
        return body;
      });
    });
  }

  function loadList() {
    var q = new URLSearchParams();
    ['status', 'min_duration_ms', 'endpoint', 'limit'].forEach(function (n) {
      var v = form.elements[n].value.trim();
      if (v) q.set(n, v);
    });
    say('Loading…');
    return api(API + '?' + q.toString()).then(function (body) {
      listBody.textContent = '';
      if (!body.traces.length) {
        listBody.appendChild(el('tr', {}, [el('td', { colspan: '5', class: 'empty', text: body.stats && body.stats.enabled === false ? 'Tracing is off: add a tracing: section to the config.' : 'No traces match.' })]));
      }
      body.traces.forEach(function (t) {
        var tr = el('tr', { 'data-trace-id': t.trace_id }, [
          el('td', { text: new Date(t.start_ms).toLocaleTimeString() + '.' + String(t.start_ms % 1000).padStart(3, '0') }),
          el('td', { text: t.target && t.endpoint && t.target !== t.endpoint ? t.target + ' → ' + t.endpoint : t.endpoint || t.target || t.path }),
          el('td', {}, [el('span', { class: 'badge ' + t.status, text: t.status }), ' ' + t.http_status]),
          el('td', { class: 'num', text: ms(t.duration_ms) }),
          el('td', { class: 'id', text: t.trace_id.slice(0, 8) + '…', title: t.trace_id }),
        ]);
        if (t.trace_id === current) tr.classList.add('selected');
        tr.addEventListener('click', function () { location.hash = t.trace_id; });
        listBody.appendChild(tr);
      });
      var s = body.stats && body.stats.files;
      say(body.traces.length + ' trace' + (body.traces.length === 1 ? '' : 's') + (s && s.dropped ? ' · ' + s.dropped + ' dropped (queue full)' : ''));
    }).catch(function (e) { say('Could not list traces: ' + e.message, true); });
  }

  /** Spans in tree order (parents before children, siblings by start), with their depth. */
  function ordered(spans) {
    var ids = {}; spans.forEach(function (s) { ids[s.span_id] = true; });
    var children = {};
    var roots = [];
    spans.forEach(function (s) {
      if (s.parent_id && ids[s.parent_id]) (children[s.parent_id] = children[s.parent_id] || []).push(s);
      else roots.push(s);
    });
    var out = [];
    var byStart = function (a, b) { return a.start_offset_ms - b.start_offset_ms; };
    (function walk(list, depth) {
      list.sort(byStart).forEach(function (s) { out.push({ span: s, depth: depth }); walk(children[s.span_id] || [], depth + 1); });
    })(roots, 0);
    return out;
  }

  function kv(rows) {
    return el('table', {}, [el('tbody', {}, rows.filter(function (r) { return r[1] !== undefined && r[1] !== null && r[1] !== ''; }).map(function (r) {
      return el('tr', {}, [el('td', { text: r[0] }), el('td', {}, [typeof r[1] === 'object' && r[1].nodeType ? r[1] : String(r[1])])]);
    }))]);
  }

  function showSpan(span, trace) {
    var box = document.getElementById('span-detail');
    box.textContent = '';
    box.appendChild(el('h3', { text: span.name }));
    box.appendChild(kv([
      ['span_id', span.span_id], ['parent_id', span.parent_id], ['kind', span.kind],
      ['status', span.status.code + (span.status.message ? ' — ' + span.status.message : '')],
      ['start', span.start_time + ' (+' + ms(span.start_offset_ms) + ')'], ['duration', ms(span.duration_ms)],
    ]));
    var attrs = Object.keys(span.attributes || {}).sort().map(function (k) { var v = span.attributes[k]; return [k, Array.isArray(v) ? v.join(', ') : v]; });
    if (attrs.length) { box.appendChild(el('h4', { text: 'Attributes' })); box.appendChild(kv(attrs)); }
    if (span.inputs) { box.appendChild(el('h4', { text: 'Inputs' })); box.appendChild(el('pre', { class: 'inputs', text: JSON.stringify(span.inputs, null, 2) })); }
    if (span.outputs) { box.appendChild(el('h4', { text: 'Outputs' })); box.appendChild(el('pre', { class: 'outputs', text: JSON.stringify(span.outputs, null, 2) })); }
    if (span.events && span.events.length) {
      box.appendChild(el('h4', { text: 'Events' }));
      box.appendChild(kv(span.events.map(function (e) {
        return [e.name, '+' + ms(e.offset_ms) + ' · ' + e.timestamp + (e.attributes ? ' · ' + JSON.stringify(e.attributes) : '')];
      })));
    }
  }

  function drawWaterfall(trace) {
    var wf = document.getElementById('waterfall');
    wf.textContent = '';
    var total = Math.max(trace.duration_ms, 0.001);
    trace.spans.forEach(function (s) { total = Math.max(total, s.start_offset_ms + s.duration_ms); });
    var pct = function (v) { return Math.max(0, Math.min(100, (v / total) * 100)); };
    var ticks = el('div', { class: 'wf-ticks' }, [0, 0.25, 0.5, 0.75, 1].map(function (f) {
      return el('span', { class: 'wf-tick', style: 'left:' + (f * 100) + '%', text: ms(total * f) });
    }));
    wf.appendChild(el('div', { class: 'wf-axis' }, [el('div', { class: 'wf-name', text: 'span' }), ticks]));
    ordered(trace.spans).forEach(function (item) {
      var s = item.span;
      var left = pct(s.start_offset_ms);
      var width = Math.max(pct(s.duration_ms), 0.2);
      var bar = el('div', { class: 'wf-bar ' + s.kind + (s.status.code === 'ERROR' ? ' error' : ''), style: 'left:' + left + '%;width:' + width + '%', title: s.name + ' · ' + ms(s.duration_ms) });
      // The duration sits after the bar, or inside its end when the bar reaches the right edge.
      var inside = left + width > 80;
      var label = el('span', { class: 'wf-label' + (inside ? ' inside' : ''), style: inside ? 'right:' + Math.max(0, 100 - left - width) + '%' : 'left:' + (left + width + 0.5) + '%', text: ms(s.duration_ms) });
      var track = el('div', { class: 'wf-track' }, [bar, label]);
      (s.events || []).forEach(function (e) {
        track.appendChild(el('span', { class: 'wf-event', 'data-event': e.name, style: 'left:' + pct(e.offset_ms) + '%', title: e.name + ' @ +' + ms(e.offset_ms) }));
      });
      var row = el('div', { class: 'wf-row', 'data-span-id': s.span_id }, [
        el('div', { class: 'wf-name', style: 'padding-left:' + (8 + item.depth * 16) + 'px', title: s.name }, [el('span', { class: 'kind', text: s.kind }), s.name]),
        track,
      ]);
      row.addEventListener('click', function () {
        Array.prototype.forEach.call(wf.querySelectorAll('.wf-row.selected'), function (r) { r.classList.remove('selected'); });
        row.classList.add('selected');
        showSpan(s, trace);
      });
      wf.appendChild(row);
    });
  }

  function showTrace(id) {
    current = id;
    Array.prototype.forEach.call(listBody.querySelectorAll('tr'), function (tr) { tr.classList.toggle('selected', tr.getAttribute('data-trace-id') === id); });
    return api(API + '/' + encodeURIComponent(id)).then(function (trace) {
      detail.hidden = false;
      var summary = document.getElementById('trace-summary');
      summary.textContent = '';
      summary.appendChild(el('h2', { text: trace.trace_id }));
      var dl = el('dl');
      [['Status', el('span', { class: 'badge ' + trace.status, text: trace.status + ' ' + trace.http_status })],
        ['Duration', ms(trace.duration_ms)], ['Started', trace.start_time],
        ['Endpoint', trace.target && trace.endpoint && trace.target !== trace.endpoint ? trace.target + ' → ' + trace.endpoint : trace.endpoint || trace.target || '—'],
        ['Path', trace.method + ' ' + trace.path], ['Kept because', trace.kept], ['Request id', trace.request_id],
        ['Error', trace.error ? (trace.error.code || '') + ' ' + (trace.error.message || '') : null],
      ].forEach(function (p) {
        if (p[1] === null || p[1] === undefined) return;
        dl.appendChild(el('div', {}, [el('dt', { text: p[0] }), el('dd', {}, [typeof p[1] === 'string' ? p[1] : p[1]])]));
      });
      summary.appendChild(dl);
      drawWaterfall(trace);
      showSpan(trace.spans[0], trace);
      var first = document.querySelector('#waterfall .wf-row');
      if (first) first.classList.add('selected');
      say('');
    }).catch(function (e) { say('Could not load trace ' + id + ': ' + e.message, true); });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    sessionStorage.setItem('gatehouse.traces.key', form.elements.key.value.trim());
    loadList();
  });
  window.addEventListener('hashchange', function () {
    var id = location.hash.slice(1);
    if (/^[0-9a-f]{32}$/.test(id)) showTrace(id);
  });
  loadList().then(function () {
    var id = location.hash.slice(1);
    if (/^[0-9a-f]{32}$/.test(id)) showTrace(id);
  });
})();

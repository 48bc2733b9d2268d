/* MedSight UI, embedded in the plugin at build time (cmake ms_embed_text).
 * Served twice: appended to Orthanc Explorer (OrthancPluginExtendOrthancExplorer), where it adds
 * a "MedSight" button to the home page and a "MedSight results" entry to series pages; and in
 * the standalone page GET /medsight/ui, where it renders the queue, recent jobs (retry/cancel),
 * stage-time charts and p50/p95 per analysis. Plain DOM + SVG: no libraries, no network beyond
 * this Orthanc. URLs are relative ("../medsight/..."), which resolves to /medsight/... both from
 * /app/explorer.html and from /medsight/ui, also behind a reverse proxy prefix. */
(function () {
  'use strict';
  var API = '../medsight/';

  /* ---- Orthanc Explorer extension ------------------------------------------------------- */
  if (typeof window.$ === 'function' && window.$.mobile && !document.getElementById('medsight-app')) {
    var $ = window.$;
    $('#lookup').live('pagebeforecreate', function () {
      var b = $('<a>').attr({ href: API + 'ui', 'data-icon': 'grid', 'data-role': 'button',
                              'data-ajax': 'false', rel: 'external', id: 'medsight-button' })
                      .text('MedSight');
      $('#lookup .ui-btn-right').append(b);
      var info = $('<p>').attr({ id: 'medsight-home', align: 'center' })
        .append($('<a>').attr({ href: API + 'ui', 'data-ajax': 'false', rel: 'external' })
                        .text('MedSight: analysis queue, jobs and performance'));
      $('#lookup #content').after(info);
    });
    $('#lookup').live('pagebeforeshow', function () {
      $.ajax({ url: API + 'status', dataType: 'json', cache: false, success: function (s) {
        var j = s.Jobs || {};
        $('#medsight-home a').text('MedSight: ' + (j.queued || 0) + ' queued, ' + (j.running || 0) +
          ' running, ' + (j.done || 0) + ' done, ' + (j.failed || 0) + ' failed (device ' +
          (s.Device ? s.Device.Name : '?') + ')');
      } });
    });
    $('#series').live('pagebeforecreate', function () {
      var li = $('<li>').attr('data-icon', 'info')
        .append($('<a>').attr({ href: '#', id: 'medsight-series-results' }).text('MedSight results'));
      $('#series-access').append(li);
    });
    $('#series').live('pagebeforeshow', function () {
      var uuid = $.mobile.pageData ? $.mobile.pageData.uuid : null;
      if (!uuid)
        return;
      $('#medsight-series-results').text('MedSight results').unbind('click').click(function (e) {
        e.preventDefault();
        window.open(API + 'ui#series=' + encodeURIComponent(uuid));
      });
      $.ajax({ url: API + 'jobs', data: { series: uuid }, dataType: 'json', cache: false,
        success: function (jobs) {
          $('#medsight-series-results').text('MedSight results (' + jobs.length + ' job' +
                                             (jobs.length === 1 ? '' : 's') + ')');
        } });
    });
    return;
  }

  /* ---- standalone page (/medsight/ui) ----------------------------------------------------- */
  var root = document.getElementById('medsight-app');
  if (!root)
    return;

  var SVGNS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
                '#7f7f7f', '#bcbd22', '#17becf'];
  var state = { series: null, analysis: null, timer: null };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'onclick') e.onclick = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function request(method, path, done) {
    var x = new XMLHttpRequest();
    x.open(method, API + path);
    x.onload = function () {
      var body = null;
      try { body = JSON.parse(x.responseText); } catch (e) { body = null; }
      done(x.status, body);
    };
    x.onerror = function () { done(0, null); };
    x.send();
  }

  function fmtMs(v) {
    if (v === null || v === undefined) return '';
    return v >= 10000 ? (v / 1000).toFixed(1) + ' s' : v.toFixed(v < 10 ? 2 : 0) + ' ms';
  }

  function fmtTime(iso) {
    return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
  }

  function setError(msg) {
    var e = document.getElementById('ms-error');
    e.textContent = msg || '';
    e.style.display = msg ? 'block' : 'none';
  }

  function action(method, path) {
    request(method, path, function (status, body) {
      if (status !== 200)
        setError(method + ' ' + path + ': ' + (body && body.Error ? body.Error : 'HTTP ' + status));
      else
        setError('');
      refresh();
    });
  }

  function progressBar(job) {
    var pct = Math.round((job.State === 'done' ? 1 : job.Progress || 0) * 100);
    return el('div', { 'class': 'bar', title: pct + '%' }, [
      el('div', { 'class': 'fill ' + job.State, style: 'width:' + pct + '%' })]);
  }

  function jobRow(job) {
    var actions = el('td', { 'class': 'actions' });
    if (job.State === 'queued' || job.State === 'running')
      actions.appendChild(el('button', { text: 'Cancel', 'class': 'cancel',
        onclick: function () { action('DELETE', 'jobs/' + job.ID); } }));
    else
      actions.appendChild(el('button', { text: 'Retry', 'class': 'retry',
        onclick: function () { action('POST', 'jobs/' + job.ID + '/retry'); } }));
    var results = el('td', { 'class': 'results' });
    (job.Results || []).forEach(function (id) {
      results.appendChild(el('a', { href: '../app/explorer.html#instance?uuid=' + id, target: '_blank',
                                    text: id.substring(0, 8) }));
      results.appendChild(document.createTextNode(' '));
    });
    var series = el('a', { href: '#series=' + job.SeriesId, text: (job.SeriesId || '').substring(0, 8),
                           title: job.SeriesId });
    return el('tr', { 'class': 'job ' + job.State, 'data-job-id': job.ID, 'data-state': job.State }, [
      el('td', { text: job.ID }),
      el('td', { text: job.Analysis }),
      el('td', { text: job.Priority }),
      el('td', { 'class': 'state', text: job.State + (job.CancelRequested ? ' (cancelling)' : '') }),
      el('td', {}, [progressBar(job)]),
      el('td', {}, [series]),
      el('td', { text: fmtTime(job.CreatedAt) }),
      el('td', { text: fmtMs(job.QueueWaitMs) }),
      el('td', { text: fmtMs(job.RunMs) }),
      results,
      el('td', { 'class': 'error', text: job.Error || '' }),
      actions]);
  }

  function jobTable(id, jobs, empty) {
    var head = ['ID', 'Analysis', 'Priority', 'State', 'Progress', 'Series', 'Created', 'Queue wait',
                'Run', 'Results', 'Error', ''];
    var t = el('table', { id: id }, [el('thead', {}, [el('tr', {}, head.map(function (h) {
      return el('th', { text: h }); }))])]);
    var body = el('tbody');
    jobs.forEach(function (j) { body.appendChild(jobRow(j)); });
    if (!jobs.length)
      body.appendChild(el('tr', {}, [el('td', { colspan: head.length, 'class': 'empty', text: empty })]));
    t.appendChild(body);
    return t;
  }

  function replace(id, node) {
    var old = document.getElementById(id);
    node.id = id;
    old.parentNode.replaceChild(node, old);
  }

  function renderStatus(s) {
    var j = s.Jobs || {}, q = s.QueuedByPriority || {};
    replace('ms-status', el('p', {}, [document.createTextNode(
      'MedSight ' + s.Version + ' on ' + (s.Device ? s.Device.Name + ' (' + s.Device.Type + ')' : '?') +
      ' | queued ' + (j.queued || 0) + ' (STAT ' + (q.STAT || 0) + ', HIGH ' + (q.HIGH || 0) +
      ', ROUTINE ' + (q.ROUTINE || 0) + ', LOW ' + (q.LOW || 0) + '), running ' + (j.running || 0) +
      ', done ' + (j.done || 0) + ', failed ' + (j.failed || 0) + ', cancelled ' + (j.cancelled || 0) +
      ' | memory ' + (s.MemoryUsedMB || 0).toFixed(1) + ' / ' + s.MemoryBudgetMB + ' MB')]));
  }

  /* Stage times of one analysis over time: one polyline per stage, log-scaled ms. */
  function stageChart(rows) {
    var W = 760, H = 260, L = 60, R = 110, T = 10, B = 30;
    var g = svg('svg', { width: W, height: H, id: 'ms-stage-chart', 'class': 'chart' });
    rows = rows.filter(function (r) { return r.Analysis === state.analysis; });
    if (!rows.length) {
      g.appendChild(svg('text', { x: 20, y: 40 }, 'No performance records yet.'));
      return g;
    }
    var t0 = Infinity, t1 = -Infinity, m1 = 1, stages = {};
    rows.forEach(function (r) {
      t0 = Math.min(t0, r.StartedAtUnix); t1 = Math.max(t1, r.StartedAtUnix);
      m1 = Math.max(m1, r.Ms);
      (stages[r.Stage] = stages[r.Stage] || []).push(r);
    });
    if (t1 === t0) { t0 -= 1; t1 += 1; }
    var lmax = Math.log10(m1 * 1.2 + 1);
    function X(t) { return L + (t - t0) / (t1 - t0) * (W - L - R); }
    function Y(ms) { return H - B - Math.log10(ms + 1) / lmax * (H - T - B); }
    g.appendChild(svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999' }));
    g.appendChild(svg('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#999' }));
    [1, 10, 100, 1000, 10000, 100000].forEach(function (v) {
      if (v > m1 * 1.2) return;
      g.appendChild(svg('text', { x: L - 5, y: Y(v) + 4, 'text-anchor': 'end', 'class': 'axis' }, fmtMs(v)));
      g.appendChild(svg('line', { x1: L, y1: Y(v), x2: W - R, y2: Y(v), stroke: '#eee' }));
    });
    g.appendChild(svg('text', { x: L, y: H - 8, 'class': 'axis' }, new Date(t0 * 1000).toISOString().substring(0, 19)));
    g.appendChild(svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end', 'class': 'axis' },
                      new Date(t1 * 1000).toISOString().substring(0, 19)));
    Object.keys(stages).sort().forEach(function (name, i) {
      var pts = stages[name].sort(function (a, b) { return a.StartedAtUnix - b.StartedAtUnix; });
      var c = COLORS[i % COLORS.length];
      g.appendChild(svg('polyline', { fill: 'none', stroke: c, 'stroke-width': 1.5, points:
        pts.map(function (r) { return X(r.StartedAtUnix).toFixed(1) + ',' + Y(r.Ms).toFixed(1); }).join(' ') }));
      pts.forEach(function (r) {
        var dot = svg('circle', { cx: X(r.StartedAtUnix), cy: Y(r.Ms), r: 2.5, fill: c });
        dot.appendChild(svg('title', {}, name + ' ' + fmtMs(r.Ms) + ' (job ' + r.JobID + ')'));
        g.appendChild(dot);
      });
      g.appendChild(svg('rect', { x: W - R + 10, y: T + i * 16, width: 10, height: 10, fill: c }));
      g.appendChild(svg('text', { x: W - R + 25, y: T + i * 16 + 9, 'class': 'legend' }, name));
    });
    return g;
  }

  /* p50 (solid) and p95 (light) bars per analysis and stage, log-scaled. */
  function summaryChart(sum) {
    var rowH = 18, W = 760, L = 200, R = 120, T = 20;
    var H = T + Math.max(sum.length, 1) * rowH + 10;
    var g = svg('svg', { width: W, height: H, id: 'ms-summary-chart', 'class': 'chart' });
    if (!sum.length) {
      g.appendChild(svg('text', { x: 20, y: 30 }, 'No performance records yet.'));
      return g;
    }
    var m1 = 1;
    sum.forEach(function (s) { m1 = Math.max(m1, s.P95Ms); });
    var lmax = Math.log10(m1 + 1);
    function Wd(ms) { return Math.max(1, Math.log10(ms + 1) / lmax * (W - L - R)); }
    g.appendChild(svg('text', { x: L, y: 12, 'class': 'legend' }, 'p50 (dark) / p95 (light), log scale'));
    sum.forEach(function (s, i) {
      var y = T + i * rowH;
      g.appendChild(svg('text', { x: L - 6, y: y + 12, 'text-anchor': 'end', 'class': 'legend' },
                        s.Analysis + ' / ' + s.Stage + ' (n=' + s.Count + ')'));
      g.appendChild(svg('rect', { x: L, y: y + 2, width: Wd(s.P95Ms), height: rowH - 4, fill: '#aec7e8' }));
      g.appendChild(svg('rect', { x: L, y: y + 2, width: Wd(s.P50Ms), height: rowH - 4, fill: '#1f77b4' }));
      g.appendChild(svg('text', { x: L + Wd(s.P95Ms) + 6, y: y + 12, 'class': 'legend' },
                        fmtMs(s.P50Ms) + ' / ' + fmtMs(s.P95Ms)));
    });
    return g;
  }

  function renderPerf(rows, sum) {
    var names = {};
    sum.forEach(function (s) { names[s.Analysis] = true; });
    var list = Object.keys(names).sort();
    if (!state.analysis || !names[state.analysis])
      state.analysis = list[0] || null;
    var sel = el('select', { id: 'ms-analysis' });
    list.forEach(function (a) {
      var o = el('option', { value: a, text: a });
      if (a === state.analysis) o.selected = true;
      sel.appendChild(o);
    });
    sel.onchange = function () { state.analysis = sel.value; refresh(); };
    replace('ms-perf', el('div', {}, [
      el('h2', { text: 'Stage times' }), el('p', {}, [el('label', { text: 'Analysis: ' }, [sel])]),
      stageChart(rows),
      el('h2', { text: 'p50 / p95 per analysis and stage' }), summaryChart(sum)]));
  }

  function refresh() {
    var m = /series=([^&]+)/.exec(window.location.hash);
    state.series = m ? decodeURIComponent(m[1]) : null;
    request('GET', 'status', function (st, s) {
      if (st === 200) renderStatus(s); else setError('GET /medsight/status: HTTP ' + st);
    });
    if (state.series) {
      document.getElementById('ms-title').textContent = 'MedSight results of series ' + state.series;
      request('GET', 'jobs?limit=1000&series=' + encodeURIComponent(state.series), function (st, jobs) {
        if (st !== 200) return setError('GET /medsight/jobs: HTTP ' + st);
        replace('ms-queue', el('div'));
        replace('ms-jobs', el('div', {}, [el('h2', { text: 'Jobs of this series' }),
          jobTable('medsight-jobs', jobs, 'No MedSight job for this series.'),
          el('p', {}, [el('a', { href: '#', text: 'All jobs', onclick: function () {
            window.location.hash = ''; refresh(); return false; } })])]));
      });
    } else {
      document.getElementById('ms-title').textContent = 'MedSight';
      request('GET', 'jobs?limit=1000&state=queued', function (st, queued) {
        request('GET', 'jobs?limit=100&state=running', function (st2, running) {
          if (st !== 200 || st2 !== 200) return setError('GET /medsight/jobs: HTTP ' + st + '/' + st2);
          replace('ms-queue', el('div', {}, [el('h2', { text: 'Queue' }),
            jobTable('medsight-queue', running.concat(queued), 'The queue is empty.')]));
        });
      });
      request('GET', 'jobs?limit=50', function (st, jobs) {
        if (st !== 200) return setError('GET /medsight/jobs: HTTP ' + st);
        replace('ms-jobs', el('div', {}, [el('h2', { text: 'Recent jobs' }),
          jobTable('medsight-jobs', jobs, 'No jobs yet.')]));
      });
    }
    request('GET', 'perf?limit=5000', function (st, rows) {
      request('GET', 'perf/summary', function (st2, sum) {
        if (st === 200 && st2 === 200) renderPerf(rows, sum);
      });
    });
  }

  var style = el('style', { text:
    'body{font-family:sans-serif;margin:16px;color:#222}h1{font-size:22px}h2{font-size:17px;margin-top:22px}' +
    'table{border-collapse:collapse;font-size:13px;width:100%}th,td{border-bottom:1px solid #ddd;padding:3px 6px;' +
    'text-align:left;vertical-align:top}th{background:#f3f3f3}.bar{width:90px;height:10px;background:#eee}' +
    '.fill{height:10px;background:#1f77b4}.fill.done{background:#2ca02c}.fill.failed{background:#d62728}' +
    '.fill.cancelled{background:#999}td.error{color:#b00;max-width:360px}#ms-error{display:none;color:#fff;' +
    'background:#b00;padding:6px}.chart{border:1px solid #ddd;background:#fff}.axis,.legend{font-size:11px}' +
    'td.empty{color:#777;font-style:italic}' });
  document.head.appendChild(style);
  root.textContent = '';
  [el('h1', { id: 'ms-title', text: 'MedSight' }),
   el('p', {}, [el('a', { href: '../app/explorer.html', text: 'Orthanc Explorer' })]),
   el('div', { id: 'ms-error' }), el('p', { id: 'ms-status', text: 'Loading...' }),
   el('div', { id: 'ms-queue' }), el('div', { id: 'ms-jobs' }), el('div', { id: 'ms-perf' })
  ].forEach(function (n) { root.appendChild(n); });
  window.addEventListener('hashchange', refresh);
  refresh();
  state.timer = setInterval(refresh, 3000);
})();

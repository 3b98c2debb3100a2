// Live logs and plots; every other part of the pages works without this script.
(function () {
  'use strict';
  var DONE = { Success: 1, Failed: 1, Error: 1, Cancelled: 1 };

  // Each <pre data-live-url> is refreshed until the job reports a complete state.
  document.querySelectorAll('pre[data-live-url]').forEach(function (pre) {
    var url = pre.getAttribute('data-live-url');
    function poll() {
      fetch(url, { credentials: 'same-origin', cache: 'no-store' })
        .then(function (res) {
          var state = res.headers.get('x-job-state');
          return res.text().then(function (text) {
            if (text) {
              var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
              pre.textContent = text;
              if (atEnd) pre.scrollTop = pre.scrollHeight;
            }
            var el = document.getElementById('job-state');
            if (el && state) el.textContent = state;
            if (!DONE[state]) setTimeout(poll, 1500);
          });
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    poll();
  });

  function tick(v) {
    if (v == null) return '';
    return v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : String(+v.toFixed(2));
  }

  function plot(target, title, series, labels, yLabel) {
    if (!window.uPlot || !target) return null;
    var opts = {
      title: title,
      width: Math.min(target.clientWidth || 600, 640),
      height: 220,
      // Costs of a few cents a day are common: small values keep two significant digits
      // rather than rounding every tick to 0.
      axes: [{}, { label: yLabel, size: 70, values: function (u, vals) { return vals.map(tick); } }],
      series: [{}].concat(labels.map(function (l, i) {
        return { label: l, stroke: ['#2653c9', '#c9532f', '#2f9c56'][i % 3], width: 1.5 };
      })),
    };
    var el = document.createElement('div');
    el.className = 'plot';
    target.appendChild(el);
    return new uPlot(opts, series, el);
  }

  // resource_usage: one pandas "split" frame per container; CPU and memory over time.
  var usage = document.getElementById('usage');
  if (usage) {
    var drawn = [];
    var load = function () {
      fetch(usage.getAttribute('data-usage-url'), { credentials: 'same-origin', cache: 'no-store' })
        .then(function (res) { return res.json().then(function (frames) { return { frames: frames, state: res.headers.get('x-job-state') }; }); })
        .then(function (r) {
          drawn.forEach(function (u) { u.destroy(); });
          usage.innerHTML = '';
          drawn = [];
          var names = Object.keys(r.frames);
          if (names.length === 0) usage.textContent = 'No samples yet.';
          names.forEach(function (name) {
            var f = r.frames[name];
            var col = function (c) { var i = f.columns.indexOf(c); return f.data.map(function (row) { return row[i]; }); };
            var t = col('time_msecs').map(function (ms) { return ms / 1000; });
            drawn.push(plot(usage, name + ': CPU (cores)', [t, col('cpu_usage')], ['cpu'], 'cores'));
            drawn.push(plot(usage, name + ': memory (MiB)', [t, col('memory_in_bytes').map(function (b) { return b / 1048576; })], ['memory'], 'MiB'));
          });
          if (usage.getAttribute('data-live') === '1' && !DONE[r.state]) setTimeout(load, 5000);
        })
        .catch(function () { usage.textContent = 'Could not load resource usage.'; });
    };
    load();
  }

  // Billing: daily spending.
  var bill = document.getElementById('billing-series');
  if (bill) {
    var data = JSON.parse(bill.textContent || '[[],[]]');
    plot(document.getElementById('billing-plot'), 'Spending per day ($)', data, ['spent'], '$');
  }
})();

// Paddock dashboard: live updates and charts. The pages are rendered by the
// server; this file only (1) listens to the event stream and tells htmx to
// refresh the page's live region, and (2) draws the two uPlot charts.
(function () {
  "use strict";

  // Event kinds the server sends (core.EventKind). Unknown kinds are ignored.
  var kinds = ["job.queued", "job.assigned", "job.waiting", "job.running", "job.done",
    "instance.state", "instance.runner", "pool.degraded", "pool.recovered",
    "pool.enabled", "pool.drained"];

  function setStatus(text, cls) {
    var el = document.getElementById("live-status");
    if (el) {
      el.textContent = text;
      el.className = cls;
    }
  }

  // The browser reconnects by itself (after the server's "retry" delay) and
  // sends Last-Event-ID, so a manager restart loses no event.
  function connect() {
    var url = document.body.dataset.live;
    if (!url || !window.EventSource) {
      return;
    }
    var es = new EventSource(url);
    // Counters for the browser tests (and for a curious operator's console).
    window.paddockStream = { events: 0, lastId: "", opens: 0, ids: [] };
    es.onopen = function () {
      window.paddockStream.opens++;
      setStatus("live", "live-on");
    };
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) {
        setStatus("signed out: reload to sign in", "live-off");
      } else {
        setStatus("reconnecting…", "live-wait");
      }
    };
    var onEvent = function (ev) {
      window.paddockStream.events++;
      window.paddockStream.lastId = ev.lastEventId;
      window.paddockStream.ids = window.paddockStream.ids.slice(-99).concat([ev.lastEventId]);
      document.body.dispatchEvent(new CustomEvent("paddock-event", { detail: ev.type }));
    };
    kinds.forEach(function (k) { es.addEventListener(k, onEvent); });
  }

  function drawCharts() {
    var holder = document.getElementById("charts");
    if (!holder || !window.uPlot) {
      return;
    }
    var d = JSON.parse(holder.dataset.charts);
    var waitEl = document.getElementById("wait-chart");
    var machEl = document.getElementById("machines-chart");
    waitEl.replaceChildren();
    machEl.replaceChildren();
    // clientWidth includes the 6 px padding on each side.
    var width = Math.max(320, (waitEl.clientWidth || 492) - 12);

    var xs = d.wait_counts.map(function (_, i) { return i; });
    new window.uPlot({
      width: width, height: 220,
      legend: { show: false },
      scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } },
      axes: [
        { splits: function () { return xs; },
          values: function (u, splits) { return splits.map(function (i) { return d.wait_labels[i] || ""; }); } },
        { label: "jobs" }
      ],
      series: [{}, { label: "jobs", stroke: "#286ec8", fill: "rgba(40,110,200,0.35)",
        paths: window.uPlot.paths.bars({ size: [0.8] }), points: { show: false } }]
    }, [xs, d.wait_counts], waitEl);

    new window.uPlot({
      width: width, height: 220,
      legend: { show: false },
      axes: [{}, { label: "machines" }],
      series: [{}, { label: "machines", stroke: "#1f9d74", fill: "rgba(31,157,116,0.15)", points: { show: false } }]
    }, [d.times, d.live], machEl);
  }

  document.addEventListener("DOMContentLoaded", function () {
    connect();
    drawCharts();
  });
  document.addEventListener("htmx:afterSettle", drawCharts);
})();

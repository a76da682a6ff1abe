// The admin dashboard: queues, throughput, stage times, workers, failures, KPIs.
"use strict";
(function () {
  const { t, api, problem, el, show, when } = window.sohoa;
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function seconds(v) {
    return v === null || v === undefined ? "—" : v < 10 ? v.toFixed(1) + " s" : Math.round(v) + " s";
  }

  function pct(v) {
    return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %";
  }

  /** Bars of pages per minute, oldest left; the tallest bar's value on the axis. */
  function drawThroughput(points) {
    const box = $("ppm-chart");
    box.replaceChildren();
    const W = 600, H = 160, pad = 28;
    const max = Math.max(1, ...points.map((p) => p.pages));
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "bars", "aria-hidden": "true" });
    const step = (W - pad) / Math.max(points.length, 1);
    points.forEach((p, i) => {
      const h = ((H - pad) * p.pages) / max;
      const bar = svg("rect", { x: pad + i * step + 1, y: H - pad - h, width: Math.max(step - 2, 1), height: h, class: "bar" });
      bar.append(svg("title", {}, `${when(p.minute)}: ${p.pages}`));
      chart.append(bar);
    });
    chart.append(svg("line", { x1: pad, y1: H - pad, x2: W, y2: H - pad, class: "axis" }));
    chart.append(svg("text", { x: 2, y: 12, class: "label" }, String(max)));
    chart.append(svg("text", { x: 2, y: H - pad, class: "label" }, "0"));
    chart.append(svg("text", { x: pad, y: H - 8, class: "label" }, "−60 min"));
    chart.append(svg("text", { x: W - 40, y: H - 8, class: "label" }, "0"));
    box.append(chart);
    const total = points.reduce((a, p) => a + p.pages, 0);
    $("ppm-summary").textContent = `${total} / 60 min · max ${max}/min`;
  }

  async function loadOverview() {
    const answer = await api("GET", "/api/v1/admin/overview");
    const rows = $("queues");
    rows.replaceChildren();
    $("workers").replaceChildren();
    if (!answer.ok || !answer.data) {
      $("overview-empty").hidden = false;
      $("ppm-chart").replaceChildren();
      $("ppm-summary").textContent = t("no_data");
      return;
    }
    $("overview-empty").hidden = true;
    const o = answer.data;
    const stages = [...new Set([...Object.keys(o.queues || {}), ...Object.keys(o.stage_seconds || {})])];
    for (const stage of stages) {
      const times = (o.stage_seconds || {})[stage] || {};
      rows.append(el("tr", { "data-stage": stage }, el("th", { scope: "row", text: stage }),
        el("td", { class: "num", text: String((o.queues || {})[stage] ?? "—") }),
        el("td", { class: "num", text: seconds(times.p50) }), el("td", { class: "num", text: seconds(times.p95) })));
    }
    for (const w of o.workers || []) {
      $("workers").append(el("li", { class: w.online ? "online" : "offline" },
        el("strong", { text: w.name }), " — " + (w.online ? t("online") : t("offline")) +
        (w.last_seen ? ` (${t("last_seen")} ${when(w.last_seen)})` : "")));
    }
    drawThroughput(o.pages_per_minute || []);
  }

  async function retry(doc, button) {
    button.disabled = true;
    const answer = await api("POST", "/api/v1/admin/documents/" + encodeURIComponent(doc.id) + "/retry");
    show($("retry-done"), answer.ok ? t("retried") + " " + doc.source : problem(answer));
    $("retry-done").className = answer.ok ? "ok" : "alert";
    await loadFailures();
  }

  async function loadFailures() {
    const answer = await api("GET", "/api/v1/admin/failures");
    const rows = $("failures");
    rows.replaceChildren();
    if (!answer.ok || !answer.data) {
      show($("failures-empty"), t("no_data"));
      return;
    }
    const docs = answer.data.documents || [];
    show($("failures-empty"), docs.length ? "" : t("no_failures"));
    for (const doc of docs) {
      // A rejected input is permanent (the API answers 409): only failed or parked files retry.
      const button = doc.status === "rejected" ? null
        : el("button", { type: "button", class: "retry", "aria-label": t("retry_of", { name: doc.source }), text: t("retry") });
      if (button) button.addEventListener("click", () => retry(doc, button));
      rows.append(el("tr", { "data-document": doc.id },
        el("td", {}, el("a", { href: "/api/v1/documents/" + encodeURIComponent(doc.id) + "/original",
          download: doc.source, "aria-label": t("download_of", { name: doc.source }), text: doc.source })),
        el("td", { text: doc.dossier_code || "—" }), el("td", { text: doc.status }),
        el("td", {}, el("code", { title: doc.error_message || "", text: doc.error_code || "—" }),
          doc.error_message ? el("div", { class: "hint", text: doc.error_message }) : null),
        el("td", { text: when(doc.updated_at) }), el("td", {}, button)));
    }
  }

  /** Both rates per agency as bars, with the 80 % target as a line across. */
  function drawKpi(rows, target) {
    const box = $("kpi-chart");
    box.replaceChildren();
    const W = 600, left = 150, barH = 12, gap = 10;
    const H = rows.length * (2 * barH + gap) + 30;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "bars", "aria-hidden": "true" });
    const span = W - left - 10;
    rows.forEach((r, i) => {
      const y = 10 + i * (2 * barH + gap);
      chart.append(svg("text", { x: 0, y: y + barH + 4, class: "label" }, r.agency_code));
      chart.append(svg("rect", { x: left, y, width: span * (r.digitised_rate || 0), height: barH, class: "bar digitised" }));
      chart.append(svg("rect", { x: left, y: y + barH, width: span * (r.reuse_rate || 0), height: barH, class: "bar reuse" }));
    });
    const x = left + span * target;
    chart.append(svg("line", { x1: x, y1: 0, x2: x, y2: H - 16, class: "target" }));
    chart.append(svg("text", { x: x - 30, y: H - 4, class: "label" }, t("target")));
    box.append(chart);
  }

  function kpiRow(r, head) {
    const rate = (v, meets) => el("td", { class: "num " + (meets ? "meets" : "misses") },
      pct(v) + " ", el("span", { class: "sr-only", text: meets ? t("meets") : t("misses") }));
    return el("tr", { "data-agency": r.agency_code, class: head ? "total" : null },
      el("th", { scope: "row", text: head ? t("total") : r.agency_code }),
      el("td", { class: "num received", text: String(r.dossiers_received) }),
      el("td", { class: "num digitised", text: String(r.dossiers_digitised) }),
      el("td", { class: "num reusing", text: String(r.dossiers_reusing) }),
      rate(r.digitised_rate, r.digitised_meets_target), rate(r.reuse_rate, r.reuse_meets_target));
  }

  async function loadKpi() {
    const q = new URLSearchParams();
    if ($("kpi-agency").value.trim()) q.set("agency", $("kpi-agency").value.trim());
    if ($("kpi-from").value) q.set("from", $("kpi-from").value);
    if ($("kpi-to").value) q.set("to", $("kpi-to").value);
    const answer = await api("GET", "/api/v1/stats/kpi?" + q.toString());
    const rows = $("kpi-rows");
    rows.replaceChildren();
    if (!answer.ok) {
      rows.append(el("tr", {}, el("td", { colspan: "6", class: "alert", text: problem(answer) })));
      return;
    }
    for (const r of answer.data.agencies) rows.append(kpiRow(r, false));
    rows.append(kpiRow(answer.data.total, true));
    drawKpi(answer.data.agencies, answer.data.target);
  }

  $("kpi-form").addEventListener("submit", (e) => { e.preventDefault(); loadKpi(); });
  $("refresh").addEventListener("click", () => { loadOverview(); loadFailures(); loadKpi(); });
  loadOverview();
  loadFailures();
  loadKpi();
  setInterval(() => { loadOverview(); }, 10000);
})();

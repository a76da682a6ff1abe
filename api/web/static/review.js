// The review page: pages, fields (with where each was read), warnings, corrections, approval.
"use strict";
(function () {
  const { t, api, problem, el, show, when } = window.sohoa;
  const REVIEW_BELOW = 0.6; // pipeline/assemble.py REVIEW_THRESHOLD
  const root = document.getElementById("review");
  const code = root.dataset.code;
  const base = "/api/v1/records/" + encodeURIComponent(code);
  const types = JSON.parse(document.getElementById("doc-types").textContent);
  const $ = (id) => document.getElementById(id);
  let record = null;

  function label(name) {
    const text = t("fl_" + name);
    return text === "fl_" + name ? name.replace(/_/g, " ") : text;
  }

  function imageUrl(page, size) {
    return base + "/pages/" + page + "/image?size=" + size;
  }

  /** Show a page at full size; with a box, frame where the field was read. */
  function openPage(page, box, field) {
    $("viewer").hidden = false;
    const img = $("page-image");
    const frame = $("box");
    img.alt = t("page_n", { n: page });
    if (img.dataset.page !== String(page)) {
      img.src = imageUrl(page, "full");
      img.dataset.page = String(page);
    }
    for (const b of document.querySelectorAll(".thumbs button")) {
      b.setAttribute("aria-pressed", String(b.dataset.page === String(page)));
    }
    if (box && box.length === 4) {
      frame.style.left = box[0] * 100 + "%";
      frame.style.top = box[1] * 100 + "%";
      frame.style.width = (box[2] - box[0]) * 100 + "%";
      frame.style.height = (box[3] - box[1]) * 100 + "%";
      frame.hidden = false;
      $("viewer-caption").textContent = t("page_n", { n: page }) + " — " + t("box_shown", { field: label(field) });
    } else {
      frame.hidden = true;
      $("viewer-caption").textContent = t("page_n", { n: page }) + (field ? " — " + t("no_box") : "");
    }
  }

  function needsCheck(name, value, required, disagreeing) {
    if (!value) return required;
    return value.confidence < REVIEW_BELOW || disagreeing.has(name);
  }

  function renderFields(rec) {
    const spec = types[rec.doc_type] || { fields: [], required: [] };
    const names = [...spec.fields];
    for (const name of Object.keys(rec.fields)) if (!names.includes(name)) names.push(name);
    const disagreeing = new Set((rec.disagreements || []).map((d) => d.field));
    const rows = $("field-rows");
    rows.replaceChildren();
    for (const name of names) {
      const value = rec.fields[name];
      const flagged = needsCheck(name, value, spec.required.includes(name), disagreeing);
      const id = "f-" + name;
      const input = el("input", {
        id, name, value: value ? value.value : "", "data-original": value ? value.value : "",
        "aria-describedby": flagged ? id + "-flag" : null, "aria-invalid": flagged ? "true" : null,
      });
      const head = el("th", { scope: "row" }, el("label", { for: id, text: label(name) }));
      if (flagged) head.append(" ", el("span", { class: "flag", id: id + "-flag", text: t("needs_check") }));
      const where = value
        ? el("button", {
            type: "button", class: "where", "data-field": name,
            "aria-label": t("show_where", { field: label(name) }), text: t("show"),
            onclick: () => openPage(value.page || rec.pages[0], value.box, name),
          })
        : "";
      rows.append(el("tr", { class: flagged ? "needs" : null, "data-field": name }, head,
        el("td", {}, input),
        el("td", { class: "num", text: value ? Math.round(value.confidence * 100) + " %" : "—" }),
        el("td", {}, where)));
    }
  }

  function renderWarnings(rec) {
    const list = $("warnings");
    list.replaceChildren();
    for (const w of rec.warnings || []) {
      const where = w.page ? t("page_n", { n: w.page }) + ": " : "";
      list.append(el("li", { class: "warning", "data-reason": w.reason },
        el("strong", { text: w.code === "rescan_needed" ? t("rescan") : w.code }), " — " + where + w.message));
    }
    for (const q of rec.quality || []) {
      for (const reason of q.rescan_reasons || []) {
        if ((rec.warnings || []).some((w) => w.page === q.page && w.reason === reason)) continue;
        list.append(el("li", { class: "warning", "data-reason": reason },
          el("strong", { text: t("rescan") }), " — " + t("page_n", { n: q.page }) + ": " + reason));
      }
    }
    for (const d of rec.disagreements || []) {
      const values = Object.entries(d.values).map(([k, v]) => k + " = " + v).join("; ");
      list.append(el("li", { class: "warning" }, el("strong", { text: t("disagreements") }), " — " + label(d.field) + ": " + values));
    }
    if (!list.children.length) list.append(el("li", { class: "hint", text: t("no_warnings") }));
  }

  function renderThumbs(rec) {
    const list = $("thumbs");
    list.replaceChildren();
    for (const page of rec.pages) {
      list.append(el("li", {}, el("button", {
        type: "button", "data-page": String(page), "aria-pressed": "false", onclick: () => openPage(page, null, null),
      }, el("img", { src: imageUrl(page, "thumb"), alt: t("page_n", { n: page }), loading: "lazy" }),
        el("span", { text: t("page_n", { n: page }) }))));
    }
  }

  function render(rec) {
    record = rec;
    $("loading").hidden = true;
    $("summary").hidden = false;
    $("doc-type").textContent = (types[rec.doc_type] || {}).name || rec.doc_type;
    $("status").textContent = t("rs_" + rec.status);
    $("status").dataset.status = rec.status;
    $("version").textContent = String(rec.version);
    $("validity").textContent = t("v_" + rec.validity) + (rec.valid_until ? " " + rec.valid_until : "");
    const open = rec.status === "digitised" || rec.status === "needs_review";
    $("approve").disabled = !open;
    $("reject").disabled = !open;
    renderThumbs(rec);
    renderFields(rec);
    renderWarnings(rec);
  }

  async function loadVersions() {
    const answer = await api("GET", base + "/versions");
    const body = $("versions");
    body.replaceChildren();
    if (!answer.ok) return;
    for (const v of answer.data.versions) {
      body.append(el("tr", { "data-version": String(v.version) },
        el("td", { text: String(v.version) }), el("td", { text: t("rs_" + v.status) }),
        el("td", { text: v.reason }), el("td", { text: v.actor }), el("td", { text: when(v.created_at) })));
    }
  }

  async function load() {
    const answer = await api("GET", base);
    if (!answer.ok) {
      $("loading").hidden = true;
      show($("review-error"), problem(answer));
      return;
    }
    render(answer.data);
    await loadVersions();
  }

  function corrections() {
    const out = {};
    for (const input of document.querySelectorAll("#field-rows input")) {
      const value = input.value.trim();
      if (value && value !== input.dataset.original) out[input.name] = value;
    }
    return out;
  }

  async function act(path, body) {
    show($("action-error"), "");
    show($("action-done"), "");
    const answer = await api("POST", base + path, body);
    if (!answer.ok) {
      show($("action-error"), problem(answer));
      return;
    }
    render(answer.data);
    await loadVersions();
    show($("action-done"), t("saved_version", { v: answer.data.version, status: t("rs_" + answer.data.status) }));
    $("action-done").focus();
  }

  function note() {
    return $("note").value.trim() || null;
  }

  $("save").addEventListener("click", () => {
    const changed = corrections();
    if (!Object.keys(changed).length) {
      show($("action-error"), t("nothing_changed"));
      return;
    }
    act("/corrections", { corrections: changed, note: note() });
  });
  // Enter in a field must not approve by accident: approving is its own button.
  $("review-form").addEventListener("submit", (e) => e.preventDefault());
  $("approve").addEventListener("click", () => {
    if (record) act("/approve", { corrections: corrections(), note: note() });
  });
  $("reject").addEventListener("click", () => {
    const reason = $("reason").value.trim();
    if (!reason) {
      show($("action-error"), t("reason_required"));
      $("reason").focus();
      return;
    }
    act("/reject", { reason });
  });
  $("action-done").tabIndex = -1;
  load();
})();

// The intake page: pick a dossier code, drop or choose scans, follow each file live.
"use strict";
(function () {
  const { t, api, problem, el, show } = window.sohoa;
  const FINAL = new Set(["ready", "needs_review", "rejected", "failed", "duplicate", "parked"]);
  const CODE = /^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4}$/;
  const form = document.getElementById("upload-form");
  const dossier = document.getElementById("dossier");
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const chosen = document.getElementById("chosen");
  const failure = document.getElementById("upload-error");
  const jobs = document.getElementById("jobs");
  let pending = [];

  function choose(files) {
    pending = Array.from(files);
    chosen.textContent = pending.length
      ? t("files_chosen", { n: pending.length }) + ": " + pending.map((f) => f.name).join(", ")
      : t("no_files");
  }

  document.getElementById("new-code").addEventListener("click", (e) => {
    dossier.value = e.currentTarget.dataset.code;
    dossier.focus();
  });
  input.addEventListener("change", () => choose(input.files));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) choose(e.dataTransfer.files);
  });

  /** Words for a document's state: received → pages → OCR page k of n → classified → ready. */
  function describe(doc) {
    if (doc.status === "ocr") return t("st_ocr", { k: doc.pages_done, n: doc.page_count || "?" });
    return t("st_" + doc.status);
  }

  function job(file) {
    const status = el("span", { class: "status", text: t("uploading", { pct: 0 }) });
    const bar = el("progress", { max: "100", value: "0", "aria-label": file.name });
    const extra = el("div", { class: "extra" });
    const item = el("li", { class: "job", "data-status": "uploading" },
      el("strong", { class: "name", text: file.name }), " ", status, bar, extra);
    jobs.prepend(item);
    document.getElementById("empty-progress").hidden = true;
    return { item, status, bar, extra };
  }

  function render(j, doc) {
    j.item.dataset.status = doc.status;
    j.item.dataset.document = doc.id;
    j.status.textContent = describe(doc);
    if (doc.page_count) {
      j.bar.max = doc.page_count;
      j.bar.value = doc.status === "received" ? 0 : doc.pages_done;
    }
    if (!FINAL.has(doc.status)) return;
    j.bar.max = 1;
    j.bar.value = 1;
    j.extra.replaceChildren();
    if (doc.error) j.extra.append(el("p", { class: "alert", text: doc.error.code + ": " + doc.error.message }));
    if (doc.records && doc.records.length) {
      const list = el("ul", { class: "records" });
      for (const code of doc.records) {
        list.append(el("li", {}, el("a", { href: "/review/" + encodeURIComponent(code), class: "record-link", text: t("open_record", { code }) })));
      }
      j.extra.append(list);
    } else if (!doc.error) {
      j.extra.append(el("p", { class: "hint", text: t("no_records") }));
    }
  }

  async function follow(j, id) {
    for (;;) {
      const answer = await api("GET", "/api/v1/documents/" + encodeURIComponent(id));
      if (answer.ok) {
        render(j, answer.data);
        // A duplicate's records exist once the earlier file is done.
        if (FINAL.has(answer.data.status) && (answer.data.status !== "duplicate" || answer.data.records.length)) return;
      } else if (answer.status === 401) {
        j.status.textContent = problem(answer);
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** One request per file, so each file has its own upload progress and its own line. */
  function upload(file, code) {
    const j = job(file);
    const body = new FormData();
    body.append("files", file, file.name);
    if (code) body.append("dossier_code", code);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/scans");
    xhr.setRequestHeader("X-CSRF-Token", window.sohoa.csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((100 * e.loaded) / e.total);
      j.bar.value = pct;
      j.status.textContent = t("uploading", { pct });
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status !== 202 || !data) {
        j.item.dataset.status = "upload_failed";
        j.status.textContent = t("upload_failed") + " — " + problem({ status: xhr.status, data });
        return;
      }
      const doc = data.documents[0];
      render(j, { ...doc, page_count: 0, pages_done: 0, records: [] });
      follow(j, doc.id);
    });
    xhr.addEventListener("error", () => {
      j.item.dataset.status = "upload_failed";
      j.status.textContent = t("upload_failed");
    });
    xhr.send(body);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const code = dossier.value.trim();
    if (code && !CODE.test(code)) {
      show(failure, t("dossier_hint", { example: document.getElementById("new-code").dataset.code }));
      dossier.focus();
      return;
    }
    if (!pending.length) {
      show(failure, t("no_files"));
      input.focus();
      return;
    }
    show(failure, "");
    for (const file of pending) upload(file, code);
    pending = [];
    input.value = "";
    chosen.textContent = t("no_files");
  });
})();

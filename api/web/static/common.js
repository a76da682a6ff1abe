// Shared by every page: translations, the API call with the CSRF token, small DOM helpers.
"use strict";
(function () {
  const strings = JSON.parse(document.getElementById("i18n").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  /** Translated text, with {name} placeholders filled from vals. */
  function t(key, vals) {
    let text = strings[key] || key;
    for (const [k, v] of Object.entries(vals || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }

  /** Call the JSON API as the signed-in person: the cookie goes along, the token in a header. */
  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(url, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, status: 0, data: { error: { code: "network", message: String(e) } } };
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { ok: res.ok, status: res.status, data };
  }

  /** The error message of an API answer, for people. */
  function problem(answer) {
    const err = answer && answer.data && answer.data.error;
    if (err) return (err.code ? err.code + ": " : "") + (err.message || "");
    return t("error") + " " + (answer ? answer.status : "");
  }

  /** document.createElement with attributes and children (strings become text, never HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function show(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "vi-VN");
  }

  window.sohoa = { t, api, problem, el, show, when, csrf };
})();

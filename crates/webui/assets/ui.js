/* The stack's web UI script. Pages are complete without it (tables are
   links and forms); with it:
   - table links and filters fetch only the main area (header
     `X-UI-Fragment: 1`) and keep the URL in the address bar;
   - a page with `data-live` on <body> polls that URL ({generation}) and
     refreshes its main area in place when the server says something
     changed (about once a second, only while the tab is visible);
   - `pre[data-tail]` elements follow a growing file;
   - every script error or failed resource load is kept in
     `window.__uiErrors`, which the browser tests read. */
(function () {
  "use strict";
  var errors = (window.__uiErrors = []);
  /* Keep every resource timing (the tests read failed loads from them). */
  if (window.performance && performance.setResourceTimingBufferSize) {
    performance.setResourceTimingBufferSize(100000);
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) {
      errors.push("failed to load " + (t.src || t.href));
    } else {
      errors.push(String(e.message || e.error || "error"));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + String(e.reason));
  });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return consoleError.apply(console, arguments);
  };

  var main = null;
  var inflight = null;

  /* Replaces the main area with `url`'s; keeps the focused field. */
  function load(url, how) {
    if (inflight) inflight.abort();
    var ctl = (inflight = new AbortController());
    return fetch(url, { headers: { "X-UI-Fragment": "1" }, signal: ctl.signal, credentials: "same-origin" })
      .then(function (r) {
        return r.text().then(function (text) { return { ok: r.ok, text: text }; });
      })
      .then(function (res) {
        if (ctl !== inflight) return;
        inflight = null;
        var active = document.activeElement;
        var name = active && active.name && main.contains(active) ? active.name : null;
        var typed = name ? active.value : null;
        var sel = name && active.selectionStart != null ? [active.selectionStart, active.selectionEnd] : null;
        var scroll = window.scrollY;
        main.innerHTML = res.text;
        if (how === "push") history.pushState(null, "", url);
        else if (how === "replace") history.replaceState(null, "", url);
        if (how !== "push") window.scrollTo(0, scroll);
        if (name) {
          var again = main.querySelector('[name="' + CSS.escape(name) + '"]');
          if (again) {
            if (again.value !== typed) {
              /* Typed after the request left: keep the text, ask again. */
              again.value = typed;
              var form = again.closest("form.ui-filter");
              if (form) {
                clearTimeout(filterTimer);
                filterTimer = setTimeout(function () {
                  filterTimer = null;
                  load(formUrl(form), "replace");
                }, 250);
              }
            }
            again.focus();
            if (sel && again.setSelectionRange) again.setSelectionRange(sel[0], sel[1]);
          }
        }
        startTails();
        document.dispatchEvent(new CustomEvent("ui:updated"));
      })
      .catch(function (e) {
        if (e && e.name === "AbortError") return;
        inflight = null;
        markStale(true);
      });
  }

  function formUrl(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (v !== "") params.append(k, v); });
    var q = params.toString();
    var action = form.getAttribute("action") || location.pathname;
    return action + (q ? "?" + q : "");
  }

  function onClick(e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    var a = e.target.closest && e.target.closest("a");
    if (!a || !main.contains(a) || !a.closest(".ui-table thead, .ui-pager")) return;
    e.preventDefault();
    load(a.getAttribute("href"), "push");
  }

  var filterTimer = null;
  function onInput(e) {
    var form = e.target.closest && e.target.closest("form.ui-filter");
    if (!form) return;
    clearTimeout(filterTimer);
    filterTimer = setTimeout(function () {
      filterTimer = null;
      load(formUrl(form), "replace");
    }, 250);
  }
  function onSubmit(e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("ui-filter")) return;
    e.preventDefault();
    clearTimeout(filterTimer);
    filterTimer = null;
    load(formUrl(form), "push");
  }

  /* Live refresh: poll the page's `data-live` URL ({generation}) about
     once a second while the tab is visible; when the generation moves,
     refresh the main area in place. Not while the user is selecting
     text or has a filter change pending. */
  var seen = null;
  var polling = false;
  function markStale(stale) {
    var dot = document.getElementById("ui-live");
    if (!dot) return;
    dot.hidden = false;
    dot.classList.toggle("stale", stale);
    dot.textContent = stale ? "offline" : "live";
  }
  function busyUser() {
    var sel = window.getSelection && window.getSelection();
    return filterTimer !== null || (sel && !sel.isCollapsed && main.contains(sel.anchorNode));
  }
  function poll(url) {
    if (polling || document.hidden) return;
    polling = true;
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (d) {
        polling = false;
        markStale(false);
        var g = d && d.generation;
        if (seen === null) { seen = g; return; }
        if (g !== seen && !inflight && !busyUser()) {
          seen = g;
          load(location.pathname + location.search, null);
        }
      })
      .catch(function () { polling = false; markStale(true); });
  }
  function live(url) {
    poll(url);
    setInterval(function () { poll(url); }, 1000);
    document.addEventListener("visibilitychange", function () { poll(url); });
  }

  /* Following a file: `data-tail` is a JSON endpoint answering
     {offset, data, next} for ?offset=&length=; `data-offset` where to go on. */
  function startTails() {
    var pres = main.querySelectorAll("pre[data-tail]:not([data-tailing])");
    Array.prototype.forEach.call(pres, function (pre) {
      pre.setAttribute("data-tailing", "1");
      var offset = Number(pre.getAttribute("data-offset")) || 0;
      var url = pre.getAttribute("data-tail");
      var busy = false;
      var timer = setInterval(function () {
        if (!document.body.contains(pre)) { clearInterval(timer); return; }
        if (busy || document.hidden) return;
        busy = true;
        var sep = url.indexOf("?") < 0 ? "?" : "&";
        fetch(url + sep + "offset=" + offset + "&length=65536", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (d) {
            busy = false;
            if (!d || typeof d.data !== "string") return;
            var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 30;
            if (d.truncated) {
              pre.appendChild(document.createTextNode("\n--- the file was truncated; following it from its new end ---\n"));
            } else if (d.data.length === 0) {
              return;
            }
            pre.appendChild(document.createTextNode(d.data));
            offset = typeof d.next === "number" ? d.next : offset + new TextEncoder().encode(d.data).length;
            pre.setAttribute("data-offset", String(offset));
            /* Keep the last ~2 MB shown. */
            var text = pre.textContent;
            if (text.length > 2500000) pre.textContent = text.slice(text.length - 2000000);
            if (atEnd) pre.scrollTop = pre.scrollHeight;
          })
          .catch(function () { busy = false; });
      }, 1000);
      pre.scrollTop = pre.scrollHeight;
    });
  }

  /* Links of the old single-page UIs (`/#/agents/<id>`): the same page
     at its own URL (`slaves` is the old word for agents). */
  function followHashRoute() {
    var base = document.body.getAttribute("data-hash-routes");
    var h = location.hash;
    if (base === null || h.indexOf("#/") !== 0 || h === "#/") return false;
    location.replace(base + h.slice(1).replace(/^\/slaves(\/|$)/, "/agents$1"));
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (followHashRoute()) return;
    main = document.getElementById("ui-main");
    if (!main) return;
    document.addEventListener("click", onClick);
    document.addEventListener("input", onInput);
    document.addEventListener("submit", onSubmit);
    window.addEventListener("popstate", function () { load(location.pathname + location.search, null); });
    var liveUrl = document.body.getAttribute("data-live");
    if (liveUrl) live(liveUrl);
    startTails();
  });
})();

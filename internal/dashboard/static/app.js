// AgentGate dashboard script. Every page works without it; it adds live
// updates, decisions without a reload, keyboard shortcuts, countdowns and
// the copy button. Data from agents is only ever written with textContent.
(function () {
  "use strict";

  var body = document.body;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // ---- Times --------------------------------------------------------------

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function agoText(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return "just now";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min ago";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h ago";
    return Math.floor(h / 24) + " days ago";
  }

  function countdownText(ms) {
    if (ms <= 0) return "expired";
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
    if (d > 0) return "in " + d + "d " + h + "h";
    if (h > 0) return "in " + h + "h " + pad(m) + "m";
    return "in " + m + "m " + pad(sec) + "s";
  }

  var localFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function parseTime(el) {
    var t = Date.parse(el.getAttribute("datetime") || "");
    return isNaN(t) ? null : t;
  }

  function refreshTimes() {
    var now = Date.now();
    $$("time[data-ago]").forEach(function (el) {
      var t = parseTime(el);
      if (t === null) return;
      el.textContent = agoText(now - t);
      if (!el.title) el.title = localFmt.format(new Date(t));
    });
  }

  function refreshCountdowns() {
    var now = Date.now();
    $$("time[data-countdown]").forEach(function (el) {
      var t = parseTime(el);
      if (t === null) return;
      var left = t - now;
      el.textContent = countdownText(left);
      el.title = "Expires " + localFmt.format(new Date(t));
      var box = el.closest(".expiry");
      if (box) {
        box.classList.toggle("is-soon", left > 0 && left < 10 * 60 * 1000);
        box.classList.toggle("is-over", left <= 0);
      }
    });
  }

  function localizeTimes(root) {
    $$("time[data-local]", root).forEach(function (el) {
      var t = parseTime(el);
      if (t !== null) { el.title = el.textContent; el.textContent = localFmt.format(new Date(t)); }
    });
  }

  // ---- Toasts and announcements -------------------------------------------

  function toast(text, isError) {
    var box = $("#toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast" + (isError ? " is-error" : "");
    t.textContent = text;
    box.appendChild(t);
    setTimeout(function () { t.classList.add("is-gone"); }, isError ? 6000 : 3000);
    setTimeout(function () { t.remove(); }, isError ? 6400 : 3400);
  }

  function announce(text) {
    var a = $("#announcer");
    if (!a) return;
    a.textContent = "";
    setTimeout(function () { a.textContent = text; }, 50);
  }

  function fadeServerToasts() {
    $$("#toasts .toast").forEach(function (t) {
      setTimeout(function () { t.classList.add("is-gone"); }, 3500);
      setTimeout(function () { t.remove(); }, 3900);
    });
    // Drop ?toast= so a reload does not show it again.
    if (location.search.indexOf("toast=") >= 0 && window.history.replaceState) {
      var u = new URL(location.href);
      u.searchParams.delete("toast");
      history.replaceState(null, "", u.pathname + (u.search ? u.search : "") + u.hash);
    }
  }

  // ---- Pending count: badge, heading and tab title -------------------------

  var baseTitle = body.getAttribute("data-title") || "";

  function setPending(n) {
    body.setAttribute("data-pending", String(n));
    var text = n.toLocaleString("en-US");
    $$("[data-pending-badge]").forEach(function (b) { b.textContent = text; b.hidden = n === 0; });
    $$("[data-pending-count]").forEach(function (c) { c.textContent = text; });
    $$("[data-pending-noun]").forEach(function (c) { c.textContent = n === 1 ? "request waits" : "requests wait"; });
    var t = (baseTitle ? baseTitle + " · " : "") + "AgentGate";
    document.title = (n > 0 ? "(" + n + ") " : "") + t;
  }

  // ---- Queue ---------------------------------------------------------------

  var queue = $("[data-queue]");
  var skeleton = $("#card-template");
  var meId = body.getAttribute("data-me-id") || "";

  function field(card, name) { return card.querySelector('[data-f="' + name + '"]'); }

  function blockerFor(r) {
    if (r.agentId && r.agentId === meId) {
      return "This request was created with your API key, and the key that asks cannot approve its own request.";
    }
    return "";
  }

  // buildCard fills a copy of the server's card skeleton.
  function buildCard(r) {
    var card = skeleton.content.firstElementChild.cloneNode(true);
    card.id = "r-" + r.id;
    card.setAttribute("data-id", r.id);
    card.setAttribute("data-rank", String(r.rank));
    card.setAttribute("data-created", r.created);
    card.className = "card urg-edge-" + r.urgency;
    var urg = field(card, "urgency");
    urg.textContent = r.urgency;
    urg.className = "pill urg urg-" + r.urgency;
    var action = field(card, "action");
    action.textContent = r.action;
    action.setAttribute("href", "/requests/" + encodeURIComponent(r.id));
    field(card, "agent").textContent = r.agent;
    var created = field(card, "created");
    created.setAttribute("datetime", r.created);
    created.textContent = r.createdAgo;
    var exp = field(card, "expiry");
    exp.hidden = !r.expires;
    if (r.expires) exp.querySelector("time").setAttribute("datetime", r.expires);
    var summary = field(card, "summary");
    var proto = summary.firstElementChild;
    summary.textContent = "";
    (r.summary || []).forEach(function (kv) {
      var row = proto.cloneNode(true);
      row.querySelector("dt").textContent = kv.k;
      row.querySelector("dd").textContent = kv.v;
      summary.appendChild(row);
    });
    summary.hidden = !(r.summary && r.summary.length);
    field(card, "more").hidden = !r.more;
    field(card, "moreCount").textContent = String(r.more || 0);
    field(card, "reason").textContent = r.reason || "";
    field(card, "whyRow").hidden = !r.reason;
    var blocker = blockerFor(r);
    field(card, "blocker").textContent = blocker;
    field(card, "blocker").hidden = !blocker;
    field(card, "decide").hidden = !!blocker;
    $$("form[data-decide]", card).forEach(function (f) {
      f.setAttribute("action", "/requests/" + encodeURIComponent(r.id) + "/decide");
    });
    field(card, "quick").hidden = !!r.requireReason;
    field(card, "more-label").textContent = r.requireReason ? "Decide…" : "Deny…";
    field(card, "reasonLabel").textContent = r.requireReason ? "Reason (this rule requires one)" : "Reason for denying";
    field(card, "reasonLabel").setAttribute("for", "reason-" + r.id);
    var input = field(card, "reasonInput");
    input.id = "reason-" + r.id;
    input.required = !!r.requireReason;
    field(card, "reasonApprove").hidden = !r.requireReason;
    setVotes(card, r);
    field(card, "needsReason").hidden = !r.requireReason || !!blocker;
    return card;
  }

  function setVotes(card, r) {
    var v = field(card, "votes");
    if (!v) return;
    v.hidden = !(r.required > 1);
    v.textContent = r.votes + " of " + r.required + " approvals";
  }

  // before reports whether card a sorts before card b: most urgent, then oldest.
  function sortsBefore(rank, created, card) {
    var r2 = Number(card.getAttribute("data-rank"));
    if (rank !== r2) return rank > r2;
    return created < (card.getAttribute("data-created") || "");
  }

  function updateEmpty() {
    var empty = $("[data-empty]");
    if (empty && queue) empty.hidden = queue.children.length > 0;
  }

  function insertCard(r) {
    if (!queue || !skeleton || document.getElementById("r-" + r.id)) return;
    var cards = $$(".card", queue);
    var at = null;
    for (var i = 0; i < cards.length; i++) {
      if (sortsBefore(r.rank, r.created, cards[i])) { at = cards[i]; break; }
    }
    var pageFull = cards.length >= 100;
    if (!queue.hasAttribute("data-live-insert") || (at === null && pageFull)) {
      var more = $("[data-queue-more]");
      if (more) more.hidden = false;
      return;
    }
    var card = buildCard(r);
    card.classList.add("is-new");
    queue.insertBefore(card, at);
    if (pageFull) { var last = queue.lastElementChild; if (last !== card) last.remove(); }
    refreshCountdowns();
    updateEmpty();
    announce("New request: " + r.action + " from " + r.agent + ", " + r.urgency + " urgency.");
  }

  function removeCard(id, why) {
    var card = document.getElementById("r-" + id);
    if (!card || card.classList.contains("is-leaving")) return;
    var next = card.nextElementSibling || card.previousElementSibling;
    var wasSelected = card.classList.contains("is-selected");
    card.classList.add("is-leaving");
    setTimeout(function () {
      card.remove();
      updateEmpty();
      if (wasSelected && next) select(next);
    }, 220);
    if (why) announce(why);
  }

  // ---- Decisions without a reload ------------------------------------------

  function decide(form, submitter) {
    var data = new FormData(form, submitter || undefined);
    var buttons = $$("button", form);
    buttons.forEach(function (b) { b.disabled = true; });
    return fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (j) {
        if (!resp.ok) throw new Error(j.error || "The decision was not saved (" + resp.status + ").");
        return j;
      });
    }).finally(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches("form[data-decide]") || !window.fetch) return;
    e.preventDefault();
    var card = form.closest(".card");
    decide(form, e.submitter).then(function (j) {
      var word = j.status === "approved" ? "Approved" : "Denied";
      if (j.status === "pending") {
        // A quorum vote: the request waits for more approvals.
        toast("Your approval is recorded: " + j.votes + " of " + j.required + ".");
        if (card) {
          setVotes(card, j);
          field(card, "blocker").textContent = "You approved. Waiting for " + (j.required - j.votes) + " more.";
          field(card, "blocker").hidden = false;
          field(card, "decide").hidden = true;
          field(card, "needsReason").hidden = true;
        } else {
          location.reload();
        }
        return;
      }
      if (card) {
        toast(word + " " + field(card, "action").textContent + ".");
        removeCard(card.getAttribute("data-id"));
      } else {
        var next = (new FormData(form)).get("next") || "/";
        location.assign(next + (next.indexOf("?") >= 0 ? "&" : "?") + "toast=" + encodeURIComponent(j.status));
      }
    }).catch(function (err) {
      toast(err.message, true);
      var box = form.querySelector("textarea");
      if (box && /reason/i.test(err.message)) { box.setAttribute("aria-invalid", "true"); box.focus(); }
    });
  });

  // One open reason box at a time; focus its text when it opens.
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (!(d instanceof HTMLDetailsElement) || !d.open) return;
    if (d.matches("[data-reason-box], .confirm, .menu")) {
      $$("details[open]").forEach(function (o) { if (o !== d && !o.contains(d) && !o.classList.contains("jv-node")) o.open = false; });
    }
    if (d.matches("[data-reason-box]")) {
      var t = d.querySelector("textarea");
      if (t) t.focus();
    }
  }, true);

  // Ctrl/Cmd+Enter in a reason box sends the decision it was opened for.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    var t = e.target;
    if (!(t instanceof HTMLTextAreaElement)) return;
    var form = t.form;
    if (!form || !form.matches("form[data-decide]")) return;
    e.preventDefault();
    var mode = form.getAttribute("data-mode") || (form.closest(".card") ? "denied" : "approved");
    var btn = form.querySelector('button[value="' + mode + '"]:not([hidden])') || form.querySelector('button[value="denied"]');
    if (btn) form.requestSubmit(btn);
  });

  // ---- Keyboard shortcuts ----------------------------------------------------

  var selected = null;

  function select(card) {
    if (selected) selected.classList.remove("is-selected");
    selected = card;
    if (!card) return;
    card.classList.add("is-selected");
    card.setAttribute("tabindex", "-1");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function move(step) {
    var cards = $$(".card:not(.is-leaving)", queue);
    if (!cards.length) return;
    var i = selected ? cards.indexOf(selected) : -1;
    i = Math.max(0, Math.min(cards.length - 1, i + step));
    select(cards[i]);
  }

  function typing(t) {
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function openReason(card, mode) {
    var box = card.querySelector("[data-reason-box]");
    if (!box) return;
    box.open = true;
    var form = box.querySelector("form");
    form.setAttribute("data-mode", mode);
    var t = box.querySelector("textarea");
    if (t) t.focus();
  }

  function cardDecide(mode) {
    if (!selected || !queue.contains(selected)) return;
    if (!field(selected, "blocker").hidden) { toast(field(selected, "blocker").textContent, true); return; }
    var quick = field(selected, "quick");
    if (mode === "approved" && quick && !quick.hidden) { quick.requestSubmit(); return; }
    openReason(selected, mode);
  }

  function detailDecide(mode) {
    var form = $("form[data-detail-form]");
    if (!form) return;
    var reason = form.querySelector("textarea");
    form.setAttribute("data-mode", mode);
    form.classList.toggle("deny-mode", mode === "denied");
    form.classList.toggle("approve-mode", mode === "approved");
    var btn = form.querySelector(mode === "approved" ? "[data-approve]" : "[data-deny]");
    if (mode === "denied" && reason && !reason.value.trim()) {
      reason.focus();
      toast("Add a reason, then press Ctrl+Enter to deny.");
      return;
    }
    if (reason && reason.required && !reason.value.trim()) {
      reason.focus();
      toast("This rule requires a reason. Type one, then press Ctrl+Enter.");
      return;
    }
    form.requestSubmit(btn);
  }

  var pendingG = false;

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") {
      $$("details[open]").forEach(function (d) { if (!d.classList.contains("jv-node") && !d.classList.contains("jv-long")) d.open = false; });
      return;
    }
    if (typing(e.target)) return;
    var help = $("#help");
    if (e.key === "?") { if (help && help.showModal) { e.preventDefault(); help.showModal(); } return; }
    if (pendingG) {
      pendingG = false;
      if (e.key === "q") { location.assign("/"); return; }
      if (e.key === "h") { location.assign("/history"); return; }
      if (e.key === "a") { location.assign("/audit"); return; }
    }
    if (e.key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1000); return; }
    if (queue) {
      if (e.key === "j" || e.key === "ArrowDown" && selected) { e.preventDefault(); move(1); return; }
      if (e.key === "k" || e.key === "ArrowUp" && selected) { e.preventDefault(); move(-1); return; }
      if (e.key === "Enter" && selected && e.target === selected) { location.assign(field(selected, "action").getAttribute("href")); return; }
      if (e.key === "o" && selected) { location.assign(field(selected, "action").getAttribute("href")); return; }
      if (e.key === "a") { if (!selected) move(1); e.preventDefault(); cardDecide("approved"); return; }
      if (e.key === "d") { if (!selected) move(1); e.preventDefault(); cardDecide("denied"); return; }
      return;
    }
    var next = $("[data-next]"), prev = $("[data-prev]");
    if (e.key === "j" && next) { location.assign(next.getAttribute("href")); return; }
    if (e.key === "k" && prev) { location.assign(prev.getAttribute("href")); return; }
    if (e.key === "a") { e.preventDefault(); detailDecide("approved"); return; }
    if (e.key === "d") { e.preventDefault(); detailDecide("denied"); return; }
  });

  $$("[data-help-open]").forEach(function (b) {
    b.addEventListener("click", function () { var h = $("#help"); if (h && h.showModal) h.showModal(); });
  });

  // ---- Live updates ----------------------------------------------------------

  function setLive(state) {
    $$("[data-live-indicator]").forEach(function (el) {
      el.classList.toggle("is-live", state === "live");
      el.classList.toggle("is-down", state === "down");
      var label = el.querySelector("[data-live-label]");
      if (label) label.textContent = state === "live" ? "Live" : state === "down" ? "Reconnecting…" : "Connecting…";
    });
  }

  var stream = null;

  function connect(url) {
    if (!window.EventSource) return;
    var es = new EventSource(url);
    stream = es;
    es.addEventListener("open", function () { setLive("live"); });
    es.addEventListener("error", function () {
      setLive("down");
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream: the session most likely ended.
        setTimeout(function () {
          fetch(location.href, { method: "HEAD", credentials: "same-origin", redirect: "manual" }).then(function (r) {
            if (r.type === "opaqueredirect" || r.status === 401) location.assign("/signin?ended=1&next=" + encodeURIComponent(location.pathname + location.search));
            else connect(url);
          }).catch(function () { setTimeout(function () { connect(url); }, 5000); });
        }, 2000);
      }
    });
    es.addEventListener("hello", function (e) {
      var d = JSON.parse(e.data);
      setPending(d.pending);
    });
    var onChange = function (e) {
      var d = JSON.parse(e.data);
      setPending(d.pending);
      var r = d.request;
      if (!r) return;
      if (r.status === "pending") {
        var known = document.getElementById("r-" + r.id);
        if (known) setVotes(known, r); else insertCard(r);
      } else {
        var word = r.status === "expired" ? "expired" : r.status + (r.decidedBy ? " by " + r.decidedBy : "");
        removeCard(r.id, r.action + " " + word + ".");
      }
    };
    es.addEventListener("request.created", onChange);
    es.addEventListener("request.decided", onChange);
    es.addEventListener("request.expired", onChange);
    es.addEventListener("request.voted", onChange);
  }

  // ---- Small enhancements ------------------------------------------------------

  $$("[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var src = document.getElementById(b.getAttribute("data-copy"));
      if (!src) return;
      var done = function () {
        var label = b.querySelector("span");
        if (label) { label.textContent = "Copied"; setTimeout(function () { label.textContent = "Copy"; }, 2000); }
        announce("Copied to the clipboard.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(src.textContent).then(done, function () { toast("Select the key and copy it.", true); });
      } else {
        var range = document.createRange();
        range.selectNodeContents(src);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        try { document.execCommand("copy"); done(); } catch (err) { toast("Press Ctrl+C to copy the selected key.", false); }
      }
    });
  });

  // Policy editor: check the JSON as it is typed, and format it.
  var editor = $("#policy-json");
  if (editor) {
    var status = $("[data-json-status]");
    var fmt = $("[data-format]");
    var check = function () {
      try {
        JSON.parse(editor.value);
        status.textContent = "Valid JSON";
        status.className = "editor-status is-good";
        return true;
      } catch (err) {
        status.textContent = err.message;
        status.className = "editor-status is-bad";
        return false;
      }
    };
    if (fmt && !editor.readOnly) {
      fmt.hidden = false;
      fmt.addEventListener("click", function () {
        if (check()) editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
      });
    }
    var timer = null;
    editor.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 250); });
    editor.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !e.shiftKey && !editor.readOnly) {
        e.preventDefault();
        editor.setRangeText("  ", editor.selectionStart, editor.selectionEnd, "end");
      }
    });
  }

  // ---- Start -------------------------------------------------------------------

  localizeTimes(document);
  refreshTimes();
  refreshCountdowns();
  setInterval(refreshCountdowns, 1000);
  setInterval(refreshTimes, 30000);
  fadeServerToasts();
  var live = body.getAttribute("data-live");
  if (live) {
    setLive("connecting");
    connect(live);
    // Close the stream when the page is left, also into the back-forward
    // cache: browsers allow six connections per server over HTTP/1.1, and
    // streams of pages left behind would use them up.
    window.addEventListener("pagehide", function () { if (stream) { stream.close(); stream = null; } });
    window.addEventListener("pageshow", function (e) { if (e.persisted && !stream) connect(live); });
  }
})();

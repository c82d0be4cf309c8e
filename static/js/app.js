/* PSBIR shared browser helpers, loaded by base.html on every page.
 *
 * Server events: when the page belongs to a signed-in organisation member
 * (<body data-events="on">) one websocket is opened to /ws/events/ (wss on https pages).
 * Every JSON message {"event": "name", ...payload} is dispatched on `window` twice:
 *   - "psbir:event"        detail = the whole message
 *   - "psbir:<name>"       detail = the whole message   (e.g. "psbir:index_progress")
 * so a page script only needs:
 *   window.addEventListener("psbir:index_progress", (e) => update(e.detail));
 * The socket reconnects with exponential backoff (1 s doubling to 30 s, with jitter) and gives
 * up only when the server says the session is not allowed (close code 4401).
 *
 * Toasts: messages with event "notify" ({"message", "level"}) and "personal_model_ready"
 * appear bottom-right. Pages may call PSBIR.toast("text", "success" | "error" | "warning").
 *
 * Other helpers on window.PSBIR:
 *   PSBIR.csrfToken()               the CSRF token for fetch() POSTs
 *   PSBIR.api(url, {method, json, body, headers})  fetch with CSRF + JSON; resolves to the
 *                                   parsed body, rejects with an Error carrying .status/.data
 *   PSBIR.socketState()             "connecting" | "open" | "closed"
 */
(function () {
  "use strict";

  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var HEARTBEAT_MS = 25000;
  var CLOSE_NOT_ALLOWED = 4401;
  var TOAST_MS = 7000;

  var socket = null;
  var state = "closed";
  var retryMs = RETRY_MIN_MS;
  var heartbeat = null;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function setState(next) {
    state = next;
    document.querySelectorAll("[data-live-dot]").forEach(function (dot) {
      dot.setAttribute("data-state", next);
      dot.title = "Live updates: " + next;
    });
  }

  function dispatch(message) {
    if (!message || typeof message !== "object" || typeof message.event !== "string") return;
    window.dispatchEvent(new CustomEvent("psbir:event", { detail: message }));
    window.dispatchEvent(new CustomEvent("psbir:" + message.event, { detail: message }));
  }

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws/events/";
  }

  function scheduleReconnect() {
    // Jitter keeps many tabs from reconnecting in lockstep after a server restart.
    var wait = retryMs * (0.75 + Math.random() * 0.5);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    window.setTimeout(connect, wait);
  }

  function connect() {
    if (!("WebSocket" in window)) return;
    setState("connecting");
    try {
      socket = new WebSocket(socketUrl());
    } catch (err) {
      setState("closed");
      scheduleReconnect();
      return;
    }
    socket.onopen = function () {
      retryMs = RETRY_MIN_MS;
      setState("open");
      heartbeat = window.setInterval(function () {
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ type: "ping" }));
        }
      }, HEARTBEAT_MS);
    };
    socket.onmessage = function (msg) {
      var data;
      try {
        data = JSON.parse(msg.data);
      } catch (err) {
        return;
      }
      dispatch(data);
    };
    socket.onclose = function (evt) {
      window.clearInterval(heartbeat);
      socket = null;
      setState("closed");
      if (evt.code === CLOSE_NOT_ALLOWED) return; // signed out: retrying cannot help
      scheduleReconnect();
    };
  }

  function toast(text, level) {
    var area = document.getElementById("toasts");
    if (!area || !text) return;
    var item = document.createElement("div");
    item.className = "toast" + (level ? " " + level : "");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var body = document.createElement("div");
    body.className = "toast-body";
    body.textContent = text; // textContent: event payloads are never parsed as HTML
    var close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () {
      item.remove();
    });
    item.appendChild(body);
    item.appendChild(close);
    area.appendChild(item);
    window.setTimeout(function () {
      item.remove();
    }, TOAST_MS);
  }

  function api(url, options) {
    options = options || {};
    var headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    var method = (options.method || "GET").toUpperCase();
    var body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
    return fetch(url, {
      method: method,
      headers: headers,
      body: body,
      credentials: "same-origin",
    }).then(function (resp) {
      var parse =
        resp.status === 204
          ? Promise.resolve(null)
          : resp.text().then(function (text) {
              try {
                return text ? JSON.parse(text) : null;
              } catch (err) {
                return { detail: text };
              }
            });
      return parse.then(function (data) {
        if (resp.ok) return data;
        var error = new Error((data && data.detail) || resp.statusText || "Request failed");
        error.status = resp.status;
        error.data = data;
        throw error;
      });
    });
  }

  window.addEventListener("psbir:notify", function (e) {
    toast(e.detail.message, e.detail.level || "info");
  });
  window.addEventListener("psbir:personal_model_ready", function (e) {
    toast(e.detail.message || "Your personalized model is ready", "success");
  });

  window.PSBIR = {
    csrfToken: csrfToken,
    api: api,
    toast: toast,
    dispatch: dispatch,
    socketState: function () {
      return state;
    },
  };

  function start() {
    if (document.body && document.body.getAttribute("data-events") === "on") connect();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

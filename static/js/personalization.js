/* Personalization in the browser: the w slider, training state, "train now", and feedback.
 *
 * Works on any page holding an element with [data-personalization] (the search page's panel,
 * the dashboard). It relies on app.js (window.PSBIR.api / toast, and the websocket events
 * "psbir:personal_training", "psbir:personal_model_ready", "psbir:personal_head_changed")
 * and on the "psbir:results" event of search.js (the latest query) and session.js (every
 * stored query of a session) ({query_id, results, container}; cards carry
 * data-result-id / data-image-id). With [data-session-marks] each query block gets its own
 * "None of these" button; otherwise the panel's button follows the latest query.
 *
 * w: moving the slider sets window.PSBIR.searchOptions.personal_weight (sent with the next
 * search) and, after a short pause, stores it as the user's w through the API.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-personalization]");
  if (!root || !window.PSBIR) return;
  var api = window.PSBIR.api;
  var toast = window.PSBIR.toast;
  var SAVE_DELAY_MS = 400;
  var STATE_LABELS = { queued: "Queued", training: "Training", ready: "Ready", failed: "Failed" };

  function detailUrl(template, id) {
    return template.replace(/0\/$/, String(id) + "/");
  }

  // --- w ----------------------------------------------------------------------------------
  var slider = document.querySelector("[data-pz-weight]");
  var sliderValue = document.querySelector("[data-pz-weight-value]");
  var saveTimer = null;

  var weightWords = document.querySelector("[data-pz-weight-words]");

  // What w does, in words. What the user taught (their marks and personalized model) only
  // counts on searches close to the ones they gave feedback on (personalization/ranking.py);
  // every other search is the general model's, whatever w says.
  function describeWeight(value) {
    var w = Number(value);
    var personal = Math.round(w * 100);
    if (w <= 0) {
      return "Only the general model orders your results: your marks and your personalized " +
        "model are not used.";
    }
    var rest = " Searches unlike any you gave feedback on always get the general model's order.";
    if (w >= 1) {
      return "On searches like ones you gave feedback on, only what you taught (your marks " +
        "and personalized model) orders the results." + rest;
    }
    return "On searches like ones you gave feedback on, what you taught counts " + personal +
      "% and the general model " + (100 - personal) + "%." + rest;
  }

  function showWeight(value) {
    if (sliderValue) sliderValue.textContent = Number(value).toFixed(2);
    if (weightWords) weightWords.textContent = describeWeight(value);
  }

  function useWeight(value) {
    window.PSBIR.searchOptions = Object.assign({}, window.PSBIR.searchOptions || {}, {
      personal_weight: Number(value),
    });
  }

  if (slider) {
    var settingsUrl = slider.dataset.settingsUrl || root.dataset.settingsUrl;
    showWeight(slider.value);
    useWeight(slider.value);
    slider.addEventListener("input", function () {
      showWeight(slider.value);
      useWeight(slider.value);
      window.clearTimeout(saveTimer);
      saveTimer = window.setTimeout(function () {
        api(settingsUrl, { method: "PATCH", json: { personal_weight: Number(slider.value) } }).catch(
          function (err) {
            toast("Could not save w: " + err.message, "error");
          }
        );
      }, SAVE_DELAY_MS);
    });
  }

  // --- training state ---------------------------------------------------------------------
  function setTraining(job) {
    var box = root.querySelector("[data-pz-training]");
    if (!box || !job) return;
    box.dataset.state = job.state;
    box.dataset.jobId = String(job.job_id || job.id || "");
    var badge = box.querySelector("[data-pz-state]");
    if (badge) {
      badge.textContent = STATE_LABELS[job.state] || job.state;
      badge.className =
        "badge " + (job.state === "ready" ? "success" : job.state === "failed" ? "error" : "info");
    }
    var message = box.querySelector("[data-pz-message]");
    if (message) message.textContent = job.message || "";
    var bar = box.querySelector("[data-pz-progress]");
    if (bar) {
      bar.value = job.progress || 0;
      bar.textContent = (job.progress || 0) + "%";
      bar.hidden = !(job.state === "queued" || job.state === "training");
    }
    var train = root.querySelector("[data-pz-train]");
    if (train) train.disabled = job.state === "queued" || job.state === "training";
  }

  function setActive(version) {
    var active = root.querySelector("[data-pz-active]");
    if (active) active.textContent = version ? "your model v" + version : "the general model";
  }

  // "Train now" needs a mark: disabled, with the reason beside it, until there is one.
  function setHasMarks(hasMarks) {
    var button = root.querySelector("[data-pz-train]");
    var reason = root.querySelector("[data-pz-train-reason]");
    if (button && !button.dataset.pzBusy) button.disabled = !hasMarks;
    if (reason) reason.hidden = Boolean(hasMarks);
  }

  function refreshStatus() {
    if (!root.dataset.statusUrl) return Promise.resolve();
    return api(root.dataset.statusUrl)
      .then(function (status) {
        setActive(status.active_version);
        if (typeof status.has_marks === "boolean") setHasMarks(status.has_marks);
        var fresh = root.querySelector("[data-pz-new]");
        if (fresh) fresh.textContent = String(status.new_feedback_sketches);
        if (status.job) setTraining(status.job);
      })
      .catch(function () {
        /* the panel keeps what it shows; the next event refreshes it */
      });
  }

  window.addEventListener("psbir:personal_training", function (e) {
    setTraining(e.detail);
  });
  window.addEventListener("psbir:personal_model_ready", function (e) {
    setActive(e.detail.version);
    refreshStatus();
    // The dashboard lists the models: show the new one once the toast had a moment.
    if (root.hasAttribute("data-dashboard")) {
      window.setTimeout(function () {
        window.location.reload();
      }, 1500);
    }
  });
  window.addEventListener("psbir:personal_head_changed", function (e) {
    setActive(e.detail.version);
  });

  var trainButton = root.querySelector("[data-pz-train]");
  if (trainButton) {
    trainButton.addEventListener("click", function () {
      trainButton.disabled = true;
      api(root.dataset.trainingUrl, { method: "POST" })
        .then(function (job) {
          setTraining({
            job_id: job.id,
            state: job.state,
            progress: job.progress,
            message: job.message,
          });
          toast("Training " + (job.state === "queued" ? "queued" : job.state) + ".", "success");
        })
        .catch(function (err) {
          trainButton.disabled = false;
          var text = err.status === 429 ? "You asked for training often; try again later." : err.message;
          toast(text, "error");
        });
    });
  }

  // --- feedback on search results ---------------------------------------------------------
  // One entry per query shown: the search page shows its latest query (the panel's "None of
  // these" button follows it); a session page shows several, each with its own button.
  var feedbackUrl = root.dataset.feedbackUrl;
  var feedbackDetailUrl = root.dataset.feedbackDetailUrl;
  var perBlock = root.hasAttribute("data-session-marks");
  var panelNone = root.querySelector("[data-pz-none]");
  var queries = {};
  var latest = null;

  function noneButtonOf(query) {
    return perBlock ? query.noneButton : panelNone;
  }

  function applyFeedback(query, rows) {
    var byResult = {};
    var none = null;
    (rows || []).forEach(function (row) {
      if (row.kind === "none") none = row;
      else byResult[row.result] = row;
    });
    query.container.querySelectorAll("[data-result-id]").forEach(function (card) {
      var row = byResult[card.dataset.resultId];
      var button = card.querySelector("[data-pz-mark]");
      if (!button) return;
      button.setAttribute("aria-pressed", row ? "true" : "false");
      button.dataset.feedbackId = row ? String(row.id) : "";
      button.textContent = row ? "✓ Meant" : "✓ I meant this";
      card.classList.toggle("pz-marked", Boolean(row));
    });
    var noneButton = noneButtonOf(query);
    if (noneButton && (perBlock || query === latest)) {
      noneButton.setAttribute("aria-pressed", none ? "true" : "false");
      noneButton.dataset.feedbackId = none ? String(none.id) : "";
      noneButton.textContent = none ? "None of these (marked)" : "None of these";
    }
  }

  function loadFeedback(query) {
    return api(feedbackUrl + "?query_id=" + encodeURIComponent(query.id)).then(function (rows) {
      applyFeedback(query, rows);
    });
  }

  function send(query, body) {
    return api(feedbackUrl, { method: "POST", json: Object.assign({ query_id: query.id }, body) })
      .then(function (rows) {
        applyFeedback(query, rows);
      })
      .then(refreshStatus)
      .catch(function (err) {
        toast("Feedback not saved: " + err.message, "error");
      });
  }

  function withdraw(query, feedbackId) {
    return api(detailUrl(feedbackDetailUrl, feedbackId), { method: "DELETE" })
      .then(function () {
        return loadFeedback(query);
      })
      .then(refreshStatus)
      .catch(function (err) {
        toast("Could not withdraw: " + err.message, "error");
      });
  }

  function markButton(query, card) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn secondary small pz-mark";
    button.dataset.pzMark = "1";
    button.setAttribute("aria-pressed", "false");
    button.textContent = "✓ I meant this";
    // Named for its photo ("I meant this: circle.png (#1)"), so that a page's twenty mark
    // buttons differ; aria-pressed says whether it is marked.
    var name = card.querySelector(".name");
    var img = card.querySelector("img");
    var photo = (name && name.textContent.trim()) || (img && img.alt) || "photo " + card.dataset.imageId;
    button.setAttribute(
      "aria-label",
      "I meant this: " + photo + (card.dataset.rank ? " (#" + card.dataset.rank + ")" : "")
    );
    button.addEventListener("click", function (evt) {
      evt.preventDefault();
      evt.stopPropagation();
      if (button.dataset.feedbackId) withdraw(query, button.dataset.feedbackId);
      else send(query, { result_ids: [Number(card.dataset.resultId)] });
    });
    return button;
  }

  function toggleNone(query) {
    var button = noneButtonOf(query);
    if (button && button.dataset.feedbackId) withdraw(query, button.dataset.feedbackId);
    else send(query, { none_of_these: true });
  }

  // Forget: every mark of one search (or of the whole session) withdrawn in one click.
  var queryForgetUrl = root.dataset.queryForgetUrl;
  var sessionForgetUrl = root.dataset.sessionForgetUrl;

  function forgetUrlOf(template, id) {
    return template.replace(/\/0\/forget\/$/, "/" + String(id) + "/forget/");
  }

  function forget(url, done) {
    return api(url, { method: "POST" })
      .then(function (answer) {
        toast(answer.withdrawn
          ? "Forgotten: " + answer.withdrawn + " mark" + (answer.withdrawn === 1 ? "" : "s") +
            ". Your next search no longer uses " + (answer.withdrawn === 1 ? "it." : "them.")
          : "There were no marks to forget.");
        if (done) done();
      })
      .catch(function (err) {
        toast((err && err.message) || "Could not forget these marks.", "error");
      });
  }

  function blockForgetButton(query) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn secondary small pz-forget";
    button.dataset.pzForget = "1";
    button.dataset.testid = "forget-query";
    button.textContent = "Forget my marks on this search";
    button.addEventListener("click", function () {
      forget(forgetUrlOf(queryForgetUrl, query.id), function () {
        loadFeedback(query).catch(function () {});
      });
    });
    query.noneButton.insertAdjacentElement("afterend", button);
    return button;
  }

  var sessionForget = document.querySelector("[data-pz-forget-session]");
  if (sessionForget && sessionForgetUrl) {
    sessionForget.addEventListener("click", function () {
      forget(forgetUrlOf(sessionForgetUrl, sessionForget.dataset.sessionId), function () {
        Object.keys(queries).forEach(function (id) {
          loadFeedback(queries[id]).catch(function () {});
        });
      });
    });
  }

  function blockNoneButton(query) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn secondary small pz-none";
    button.dataset.pzBlockNone = "1";
    button.setAttribute("aria-pressed", "false");
    button.textContent = "None of these";
    button.addEventListener("click", function () {
      toggleNone(query);
    });
    query.container.insertAdjacentElement("afterend", button);
    return button;
  }

  if (feedbackUrl) {
    window.addEventListener("psbir:results", function (e) {
      var detail = e.detail || {};
      if (!detail.query_id || !detail.container) return;
      var query = queries[detail.query_id];
      if (!query || query.container !== detail.container) {
        query = { id: detail.query_id, container: detail.container, noneButton: null };
        queries[detail.query_id] = query;
      }
      latest = query;
      query.container.querySelectorAll("[data-result-id]").forEach(function (card) {
        if (!card.querySelector("[data-pz-mark]")) card.appendChild(markButton(query, card));
      });
      var hasResults = Boolean(detail.results && detail.results.length);
      if (perBlock && hasResults && !query.noneButton) {
        query.noneButton = blockNoneButton(query);
        if (queryForgetUrl) blockForgetButton(query);
      }
      if (!perBlock && panelNone) panelNone.disabled = !hasResults;
      loadFeedback(query).catch(function () {});
    });
    if (panelNone && !perBlock) {
      panelNone.addEventListener("click", function () {
        if (latest) toggleNone(latest);
      });
    }
  }
})();

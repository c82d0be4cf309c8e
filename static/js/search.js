/* The sketch search page: toolbar, search request, results grid, lightbox.
 *
 * After every rendered result list this dispatches
 *   window "psbir:results"  detail = {query_id, session_id, results, container}
 * where each result is the API's result object ({id, image_id, rank, distance, ...}) and
 * every card in `container` carries data-result-id (SearchResult pk) and data-image-id.
 * The personalization panel hooks its feedback buttons and w slider onto that event; it may
 * set window.PSBIR.searchOptions = {personal_weight: 0..1} to send w with the next search.
 *
 * window.PSBIR.searchLike(imageId, label) runs "more like this": the same search request
 * with a library photo's id (`image`) instead of strokes, in the current session (the
 * result cards' tools call it; ?like=<image id> runs it when the page opens).
 */
(function () {
  "use strict";

  var app = document.getElementById("search-app");
  if (!app) return;
  var canvasEl = document.getElementById("sketch-canvas");
  var sketch = new window.SketchCanvas(canvasEl, { width: 512, height: 512 });
  var form = document.getElementById("search-form");
  var button = document.getElementById("search-button");
  var errorBox = document.getElementById("search-error");
  var warningsBox = document.getElementById("search-warnings");
  var grid = document.getElementById("results");
  var summary = document.getElementById("results-summary");
  var hint = document.getElementById("canvas-hint");
  var status = document.getElementById("sketch-status");
  var sessionLabel = document.getElementById("session-label");
  var newSession = document.getElementById("new-session");
  var fileInput = document.getElementById("sketch-file");
  var uploadButton = document.getElementById("upload-sketch");
  var resultsHeading = document.getElementById("results-heading");
  var backToSketch = document.getElementById("back-to-sketch");
  var sketchPanel = document.getElementById("sketch-panel");
  var brush = document.getElementById("brush-size");
  var brushValue = document.getElementById("brush-size-value");
  var sessionId = app.dataset.sessionId ? Number(app.dataset.sessionId) : null;
  var uploadedFile = null;
  var maxUpload = Number(app.dataset.maxUploadBytes || 0);

  window.PSBIR = window.PSBIR || {};
  window.PSBIR.sketch = sketch;

  // --- toolbar ----------------------------------------------------------------------------
  function refreshToolbar() {
    app.querySelector('[data-action="undo"]').disabled = !sketch.canUndo();
    app.querySelector('[data-action="redo"]').disabled = !sketch.canRedo();
    hint.hidden = !sketch.isEmpty() || !!sketch.background;
  }

  function setTool(tool) {
    sketch.setTool(tool);
    app.querySelectorAll("[data-tool]").forEach(function (b) {
      var on = b.dataset.tool === tool;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    canvasEl.classList.toggle("erasing", tool === "eraser");
  }

  app.querySelectorAll("[data-tool]").forEach(function (b) {
    b.addEventListener("click", function () {
      setTool(b.dataset.tool);
    });
  });
  app.querySelector('[data-action="undo"]').addEventListener("click", function () {
    sketch.undo();
  });
  app.querySelector('[data-action="redo"]').addEventListener("click", function () {
    sketch.redo();
  });
  app.querySelector('[data-action="clear"]').addEventListener("click", function () {
    sketch.clear();
    uploadedFile = null;
  });
  brush.addEventListener("input", function () {
    sketch.setBrush(brush.value);
    brushValue.textContent = brush.value;
  });
  sketch.setBrush(brush.value);

  canvasEl.addEventListener("sketch:change", function () {
    if (uploadedFile && sketch.strokes.length) {
      // Drawing replaces an uploaded sketch image: one or the other is searched.
      uploadedFile = null;
      sketch.background = null;
      sketch.render();
      status.textContent = "Drawing replaced the uploaded image.";
    }
    refreshToolbar();
  });

  document.addEventListener("keydown", function (evt) {
    var target = evt.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return;
    var mod = evt.ctrlKey || evt.metaKey;
    if (mod && evt.key.toLowerCase() === "z") {
      evt.preventDefault();
      if (evt.shiftKey) sketch.redo();
      else sketch.undo();
    } else if (mod && evt.key.toLowerCase() === "y") {
      evt.preventDefault();
      sketch.redo();
    } else if (!mod && evt.key === "p") {
      setTool("pen");
    } else if (!mod && evt.key === "e") {
      setTool("eraser");
    }
  });

  // The file input stays hidden; this button is what the keyboard and screen readers reach.
  uploadButton.addEventListener("click", function () {
    fileInput.click();
  });

  // Keyboard drawing: say whether the pen is down (the status line is a polite live region).
  canvasEl.addEventListener("sketch:pen", function (evt) {
    status.textContent = evt.detail.down
      ? "Pen down: the arrow keys draw. Space lifts it."
      : "Pen up: the arrow keys move without drawing.";
  });

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (maxUpload && file.size > maxUpload) {
      showError("That image is too large to upload.");
      return;
    }
    var img = new Image();
    img.onload = function () {
      sketch.setBackground(img);
      uploadedFile = file;
      status.textContent = "Searching with the uploaded image " + file.name + ".";
    };
    img.onerror = function () {
      showError("That file could not be shown as an image.");
    };
    img.src = URL.createObjectURL(file);
  });

  // --- session ----------------------------------------------------------------------------
  function setSession(id) {
    sessionId = id;
    newSession.hidden = !id;
    if (id) {
      var href = app.dataset.sessionUrlTemplate.replace(/0\/$/, id + "/");
      sessionLabel.innerHTML = "";
      sessionLabel.appendChild(document.createTextNode("Session "));
      var link = document.createElement("a");
      link.href = href;
      link.textContent = "#" + id;
      sessionLabel.appendChild(link);
      var url = new URL(window.location.href);
      url.searchParams.set("session", String(id));
      url.searchParams.delete("from");
      window.history.replaceState(null, "", url.toString());
    } else {
      sessionLabel.textContent = "A new session starts with your next search.";
      window.history.replaceState(null, "", app.dataset.searchPageUrl);
    }
  }
  newSession.addEventListener("click", function () {
    setSession(null);
    sketch.clear();
    renderResults(null);
  });

  // --- search -----------------------------------------------------------------------------
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function errorText(err) {
    var data = err && err.data;
    if (data && data.errors && typeof data.errors === "object") {
      var parts = [];
      Object.keys(data.errors).forEach(function (key) {
        var value = data.errors[key];
        parts.push(Array.isArray(value) ? value.join(" ") : String(value));
      });
      if (parts.length) return parts.join(" ");
    }
    if (err && err.status === 429) return "Too many searches at once; wait a moment.";
    return (err && err.message) || "The search failed.";
  }

  function chosenLibraries() {
    return Array.prototype.map.call(
      form.querySelectorAll('input[name="libraries"]:checked'),
      function (box) {
        return Number(box.value);
      }
    );
  }

  function requestBody() {
    var topK = Number(form.querySelector("#top-k").value);
    var extra = (window.PSBIR && window.PSBIR.searchOptions) || {};
    var fields = { libraries: chosenLibraries(), top_k: topK };
    // The page's first search starts a session of its own (the API's default is to add
    // to your most recent one).
    if (sessionId) fields.session = sessionId;
    else fields.new_session = true;
    if (typeof extra.personal_weight === "number") fields.personal_weight = extra.personal_weight;
    if (uploadedFile && sketch.strokes.length === 0) {
      var data = new FormData();
      Object.keys(fields).forEach(function (key) {
        if (Array.isArray(fields[key])) {
          fields[key].forEach(function (v) {
            data.append(key, String(v));
          });
        } else {
          data.append(key, String(fields[key]));
        }
      });
      data.append("sketch", uploadedFile);
      return { body: data };
    }
    fields.strokes = sketch.toPayload();
    return { json: fields };
  }

  form.addEventListener("submit", function (evt) {
    evt.preventDefault();
    showError("");
    var topK = Number(form.querySelector("#top-k").value);
    var maxK = Number(form.querySelector("#top-k").max);
    if (!(topK >= 1 && topK <= maxK && Math.floor(topK) === topK)) {
      showError("K must be a whole number from 1 to " + maxK + ".");
      return;
    }
    if (sketch.isEmpty() && !uploadedFile) {
      showError("Draw something first (or upload a sketch image).");
      return;
    }
    if (!form.querySelector('input[name="libraries"]')) {
      // No library at all: choosing is not the problem, creating one is.
      showError(app.dataset.noLibraryMessage || "Your organisation has no image library yet.");
      return;
    }
    if (!form.querySelector('input[name="libraries"]:checked')) {
      showError("Choose at least one library.");
      return;
    }
    showLikeQuery(null);
    runSearch(requestBody());
  });

  var lastRequest = null;
  function runSearch(request) {
    lastRequest = request;
    button.disabled = true;
    button.textContent = "Searching…";
    summary.textContent = "Searching…";
    return window.PSBIR.api(app.dataset.searchUrl, {
      method: "POST",
      json: request.json,
      body: request.body,
    })
      .then(function (data) {
        setSession(data.session);
        renderResults(data);
        revealResults();
      })
      .catch(function (err) {
        showError(errorText(err));
        summary.textContent = "No results.";
      })
      .finally(function () {
        button.disabled = false;
        button.textContent = "Search";
        // Disabling the focused button dropped focus to the page body: give it back.
        if (!document.activeElement || document.activeElement === document.body) button.focus();
      });
  }

  // After a search the results are what the person wants next: on a phone they start far
  // below the canvas and the personalization panel, so bring their heading to the top of the
  // screen and move focus to it (screen readers then read it with the summary).
  function revealResults() {
    backToSketch.hidden = false;
    resultsHeading.focus({ preventScroll: true });
    resultsHeading.scrollIntoView({ block: "start" });
  }

  // ... and keep the sketch one press away, to change it and search again.
  backToSketch.addEventListener("click", function () {
    sketchPanel.scrollIntoView({ block: "start" });
    canvasEl.focus({ preventScroll: true });
  });

  // --- more like this: a library photo as the query ---------------------------------------
  var likeBox = document.getElementById("like-query");
  function showLikeQuery(imageId, label) {
    if (!likeBox) return;
    likeBox.hidden = !imageId;
    if (!imageId) return;
    var img = document.getElementById("like-query-img");
    img.src = app.dataset.thumbUrlTemplate.replace(/\/0\/thumb$/, "/" + imageId + "/thumb");
    img.alt = label || "photo " + imageId;
    document.getElementById("like-query-label").textContent = label || "photo #" + imageId;
  }

  function searchLike(imageId, label) {
    showError("");
    var topK = Number(form.querySelector("#top-k").value);
    var extra = (window.PSBIR && window.PSBIR.searchOptions) || {};
    var fields = { image: Number(imageId), libraries: chosenLibraries() };
    if (topK >= 1) fields.top_k = topK;
    // The page's first search starts a session of its own (the API's default is to add
    // to your most recent one).
    if (sessionId) fields.session = sessionId;
    else fields.new_session = true;
    if (typeof extra.personal_weight === "number") fields.personal_weight = extra.personal_weight;
    showLikeQuery(imageId, label);
    return runSearch({ json: fields });
  }
  window.PSBIR.searchLike = searchLike;

  // --- "drawing the same thing as one of these earlier searches?" ---------------------------
  // Your marks and personalized model count on a search as far as it is close to the
  // searches they answered; a new drawing of a subject is not always close enough to tell.
  // Offered the nearest earlier search you taught of each of the nearest subjects, one click
  // says "the same subject as this one" and searches again with it (like_query); another
  // click goes back to the automatic choice.
  var likeTaught = document.getElementById("like-taught");
  function searchAgain(likeQueryId) {
    if (!lastRequest) return;
    var request = lastRequest;
    if (request.json) {
      var fields = Object.assign({}, request.json);
      var extra = (window.PSBIR && window.PSBIR.searchOptions) || {};
      if (typeof extra.personal_weight === "number") fields.personal_weight = extra.personal_weight;
      if (sessionId) {
        fields.session = sessionId;
        delete fields.new_session;
      }
      if (likeQueryId) fields.like_query = likeQueryId;
      else delete fields.like_query;
      return runSearch({ json: fields });
    }
    var data = new FormData();
    request.body.forEach(function (value, key) {
      if (key !== "like_query" && key !== "new_session" && key !== "session") data.append(key, value);
    });
    if (sessionId) data.append("session", String(sessionId));
    if (likeQueryId) data.append("like_query", String(likeQueryId));
    return runSearch({ body: data });
  }
  function likeChoice(id, sketchUrl, label, ariaLabel, onClick) {
    var item = document.createElement("li");
    var img = document.createElement("img");
    img.src = sketchUrl;
    img.alt = "Your earlier search #" + id;
    img.width = 64;
    img.height = 64;
    var action = document.createElement("button");
    action.type = "button";
    action.className = "btn secondary small";
    action.dataset.testid = "like-taught-button";
    action.dataset.likeQuery = String(id);
    action.textContent = label;
    if (ariaLabel) action.setAttribute("aria-label", ariaLabel);
    action.addEventListener("click", onClick);
    item.appendChild(img);
    item.appendChild(action);
    return item;
  }
  function showLikeTaught(data) {
    if (!likeTaught) return;
    var offered = (data && data.suggested_taught_searches) || [];
    var said = data && data.like_query;
    likeTaught.hidden = !said && !offered.length;
    if (likeTaught.hidden) return;
    var text = document.getElementById("like-taught-text");
    var choices = document.getElementById("like-taught-choices");
    choices.textContent = "";
    if (said) {
      text.textContent =
        "You said this is the same subject as your earlier search: what you taught " +
        "there orders these results.";
      var back = "Not the same: search without it";
      choices.appendChild(
        likeChoice(said, data.like_query_sketch_url, back, null, function () {
          searchAgain(null);
        })
      );
      return;
    }
    var several = offered.length > 1;
    text.textContent = several
      ? "Drawing the same thing as one of these earlier searches? What you taught there is " +
        "not used here yet: this drawing is not close enough to any of them to be sure."
      : "Drawing the same thing as this earlier search? What you taught there is not used " +
        "here yet: this drawing is not close enough to it to be sure.";
    offered.forEach(function (earlier) {
      var label = several ? "Yes, this one" : "Yes, the same: use what I taught there";
      var spoken = several
        ? "Yes, the same as earlier search #" + earlier.id + ": use what I taught there"
        : null;
      choices.appendChild(
        likeChoice(earlier.id, earlier.sketch_url, label, spoken, function () {
          searchAgain(earlier.id);
        })
      );
    });
  }

  // --- results ----------------------------------------------------------------------------
  function card(result) {
    var fig = document.createElement("figure");
    fig.className = "result-card";
    fig.dataset.resultId = String(result.id);
    fig.dataset.imageId = String(result.image_id);
    fig.dataset.rank = String(result.rank);
    var link = document.createElement("a");
    link.className = "result-open";
    link.href = result.photo_url;
    link.target = "_blank";
    link.rel = "noopener";
    var img = document.createElement("img");
    img.src = result.thumb_url;
    img.loading = "lazy";
    img.alt = result.alt || result.caption || result.original_name || "photo " + result.image_id;
    link.appendChild(img);
    fig.appendChild(link);
    var cap = document.createElement("figcaption");
    var rank = document.createElement("span");
    rank.className = "rank";
    rank.textContent = "#" + result.rank;
    var dist = document.createElement("span");
    dist.className = "distance";
    dist.title = "Distance (smaller is closer)";
    dist.textContent = Number(result.distance).toFixed(3);
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = result.title || result.caption || result.original_name || "";
    cap.appendChild(rank);
    cap.appendChild(dist);
    cap.appendChild(name);
    fig.appendChild(cap);
    link.addEventListener("click", function (evt) {
      if (evt.ctrlKey || evt.metaKey || evt.shiftKey || evt.button === 1) return;
      evt.preventDefault();
      openLightbox(result);
    });
    return fig;
  }

  function renderResults(data) {
    grid.innerHTML = "";
    warningsBox.innerHTML = "";
    warningsBox.hidden = true;
    if (!data) {
      showLikeTaught(null);
      summary.textContent = "Draw a sketch and press Search.";
      backToSketch.hidden = true;
      return;
    }
    (data.warnings || []).forEach(function (w) {
      var li = document.createElement("li");
      li.textContent = w;
      warningsBox.appendChild(li);
      warningsBox.hidden = false;
    });
    var results = data.results || [];
    results.forEach(function (r) {
      grid.appendChild(card(r));
    });
    showLikeTaught(data);
    var w = data.personal_head_version ? " · personalized (w = " + data.personal_weight + ")" : "";
    summary.textContent = results.length
      ? results.length + " result(s), closest first" + w + "."
      : "No photo matched: are the chosen libraries indexed?";
    grid.dataset.queryId = String(data.id);
    window.dispatchEvent(
      new CustomEvent("psbir:results", {
        detail: { query_id: data.id, session_id: data.session, results: results, container: grid },
      })
    );
  }

  // --- lightbox ---------------------------------------------------------------------------
  var lightbox = document.getElementById("lightbox");
  function openLightbox(result) {
    document.getElementById("lightbox-img").src = result.photo_url;
    document.getElementById("lightbox-img").alt = result.alt || result.caption || "";
    document.getElementById("lightbox-caption").textContent =
      (result.caption || result.original_name || "") +
      (result.category ? " · " + result.category : "") +
      " · distance " +
      Number(result.distance).toFixed(3);
    document.getElementById("lightbox-open").href = result.photo_url;
    if (typeof lightbox.showModal === "function") lightbox.showModal();
    else window.open(result.photo_url, "_blank", "noopener");
  }
  lightbox.addEventListener("click", function (evt) {
    if (evt.target === lightbox) lightbox.close();
  });

  // --- redraw an earlier query ------------------------------------------------------------
  if (app.dataset.redrawQueryId) {
    var url = app.dataset.queryUrlTemplate.replace(/0\/$/, app.dataset.redrawQueryId + "/");
    window.PSBIR.api(url)
      .then(function (query) {
        if (query.strokes) {
          sketch.loadPayload(query.strokes);
          status.textContent = "Loaded the sketch of query #" + query.id + ": change it and search again.";
        }
      })
      .catch(function () {
        status.textContent = "That earlier sketch could not be loaded.";
      });
  }
  if (app.dataset.likeImageId) {
    // After every script has registered for "psbir:results" (the personalization panel).
    var runLike = function () {
      searchLike(app.dataset.likeImageId, app.dataset.likeLabel);
      var clean = new URL(window.location.href);
      clean.searchParams.delete("like");
      window.history.replaceState(null, "", clean.toString());
    };
    if (document.readyState === "complete") runLike();
    else window.addEventListener("load", runLike);
  }
  refreshToolbar();
})();

/* Result tools: "More like this" and "Why this result?" on every result card.
 *
 * Listens to window "psbir:results" (search.js for the latest query, session.js for every
 * stored query of a session; detail = {query_id, session_id, results, container}) and adds
 * two buttons to each card in `container`:
 *
 * - More like this: window.PSBIR.searchLike(imageId, label) where the search page defines it;
 *   elsewhere it opens the search page with ?like=<image id>&session=<session id>.
 * - Why?: a disclosure (aria-expanded). Open, a panel shows the photo in the square frame the
 *   network compared it in, with the query's binarised sketch drawn over it in red (and the
 *   same over the edge map when the model uses one), the terms its score adds up from
 *   (share x distance, and their sum) and the mark that moved it, with that drawing and
 *   "forget", read from GET /api/results/<id>/why/.
 *
 * Every button is named for its photo ("More like this: circle.png (#1)"): a page holds
 * twenty of each, and a screen reader's list of buttons must tell them apart.
 *
 * Layout: the panel is in the card's markup (right after its button, for reading order), but
 * in a .results-grid it is laid out across the whole grid under the card's row (layoutWhy):
 * the cards of that row keep their size and place and the rows below move down by the
 * panel's height. Grown inside its card instead, the panel stretched the whole row and left
 * a hole beside it.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !window.PSBIR) return;
  var whyTemplate = script.dataset.whyUrlTemplate;
  var searchPage = script.dataset.searchPageUrl;
  var forgetTemplate = script.dataset.forgetUrlTemplate;

  function whyUrl(resultId) {
    return whyTemplate.replace(/0\/why\/$/, String(resultId) + "/why/");
  }

  function fmt(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(3);
  }

  // Black ink of the sketch map -> red strokes on a transparent canvas.
  function strokesCanvas(sketchUrl) {
    var canvas = document.createElement("canvas");
    canvas.width = 256;
    canvas.height = 256;
    canvas.className = "why-strokes";
    canvas.setAttribute("aria-hidden", "true");
    var img = new Image();
    img.onload = function () {
      var ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0, 256, 256);
      var data = ctx.getImageData(0, 0, 256, 256);
      var px = data.data;
      var ink = 0;
      for (var i = 0; i < px.length; i += 4) {
        var dark = px[i] < 128;
        if (dark) ink += 1;
        px[i] = 220;
        px[i + 1] = 38;
        px[i + 2] = 38;
        px[i + 3] = dark ? 230 : 0;
      }
      ctx.putImageData(data, 0, 0);
      canvas.dataset.ink = String(ink);
      canvas.dataset.ready = "1";
    };
    img.src = sketchUrl;
    return canvas;
  }

  function framed(src, alt, sketchUrl, caption) {
    var fig = document.createElement("figure");
    var box = document.createElement("div");
    box.className = "why-view";
    var img = document.createElement("img");
    img.src = src;
    img.alt = alt;
    box.appendChild(img);
    if (sketchUrl) box.appendChild(strokesCanvas(sketchUrl));
    fig.appendChild(box);
    var cap = document.createElement("figcaption");
    cap.className = "small muted";
    cap.textContent = caption;
    fig.appendChild(cap);
    return fig;
  }

  function renderWhy(panel, why) {
    panel.innerHTML = "";
    var pair = document.createElement("div");
    pair.className = "why-pair";
    var overlay = why.query_kind === "photo" ? null : why.sketch_url;
    var what = overlay ? "Photo with your sketch over it" : "Photo";
    pair.appendChild(framed(why.photo_url, what, overlay, what));
    if (why.edges_url) {
      pair.appendChild(framed(why.edges_url, "Edge map", overlay, "Edge map the model compares"));
    }
    if (!overlay) {
      pair.appendChild(framed(why.sketch_url, "Query photo", null, "The query photo"));
    }
    panel.appendChild(pair);
    panel.appendChild(scoreTable(why));
    if (why.moved_by) panel.appendChild(movedBy(why));
  }

  // The terms the score adds up from: "share × distance = counts" per term, and their sum.
  // Two columns, so that it fits a result card of a phone's width.
  var TERM_SHORT = { general: "general", head: "your model", marks: "your marks" };

  function scoreTable(why) {
    var table = document.createElement("table");
    table.className = "why-terms";
    table.dataset.testid = "why-terms";
    var caption = document.createElement("caption");
    caption.className = "small muted";
    caption.textContent = why.terms && why.terms.length > 1
      ? "Score = the sum of these terms (closeness to your earlier feedback " +
        Number(why.closeness).toFixed(2) +
        (why.like_query ? ": you said this search is like an earlier one" : "") +
        ", w " + Number(why.personal_weight).toFixed(2) + ")"
      : "Ranked by the general model's distance: no feedback of yours is close to this search.";
    table.appendChild(caption);
    var body = document.createElement("tbody");
    function row(key, label, text, value, title) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = label;
      if (title) th.title = title;
      var td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(th);
      tr.appendChild(td);
      tr.dataset.whyFact = key;
      tr.dataset.value = value === null || value === undefined ? "" : String(value);
      return tr;
    }
    if (why.terms) {
      why.terms.forEach(function (term) {
        body.appendChild(row(term.name, TERM_SHORT[term.name] || term.name,
          Number(term.share).toFixed(2) + " × " + fmt(term.distance) + " = " + fmt(term.product),
          term.product, term.label + ": share × distance = what it counts"));
      });
    } else {
      body.appendChild(row("general", "general", "distance " + fmt(why.general_distance),
        why.general_distance));
      body.appendChild(row("personal", "your model", "distance " + fmt(why.personal_distance),
        why.personal_distance));
    }
    table.appendChild(body);
    var foot = document.createElement("tfoot");
    foot.appendChild(row("distance", "score", "= " + fmt(why.distance), why.distance,
      "what the ranking was sorted by (smaller is nearer)"));
    table.appendChild(foot);
    return table;
  }

  // Which earlier feedback moved this photo, with that drawing, and a way to forget it.
  function movedBy(why) {
    var moved = why.moved_by;
    var box = document.createElement("div");
    box.className = "why-moved";
    box.dataset.testid = "why-moved-by";
    if (moved.query_sketch_url) {
      var img = document.createElement("img");
      img.src = moved.query_sketch_url;
      img.alt = "The drawing you gave that feedback for";
      img.className = "why-moved-sketch";
      box.appendChild(img);
    }
    var text = document.createElement("p");
    text.className = "small";
    var shift = Number(why.distance) - Number(why.general_distance);
    text.textContent = (moved.marked_this_photo
      ? "You marked this photo"
      : "You marked a photo like it") +
      (moved.query_sketch_url ? " for a drawing like this one" : "") +
      ": its score moved by " + (shift <= 0 ? "−" : "+") + Math.abs(shift).toFixed(3) +
      " from the general model's " + fmt(why.general_distance) + ".";
    box.appendChild(text);
    if (forgetTemplate && moved.query_id) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn secondary small";
      button.dataset.testid = "why-forget";
      button.textContent = "Forget my marks on that search";
      button.addEventListener("click", function () {
        var url = forgetTemplate.replace(/\/0\/forget\/$/, "/" + String(moved.query_id) + "/forget/");
        window.PSBIR.api(url, { method: "POST" })
          .then(function (answer) {
            button.disabled = true;
            button.textContent = "Forgotten (" + answer.withdrawn + ")";
            if (window.PSBIR.toast) {
              window.PSBIR.toast("Forgotten: your next search no longer uses those marks.");
            }
          })
          .catch(function (err) {
            if (window.PSBIR.toast) window.PSBIR.toast((err && err.message) || "Could not forget.", "error");
          });
      });
      box.appendChild(button);
    }
    return box;
  }

  // "circle.png (#1)": what a card's controls are named for (its photo, and its rank, which
  // tells two photos of the same name apart).
  function photoLabel(card) {
    var name = card.querySelector(".name");
    var img = card.querySelector("img");
    var text = (name && name.textContent.trim()) || (img && img.alt) || "photo " + card.dataset.imageId;
    return card.dataset.rank ? text + " (#" + card.dataset.rank + ")" : text;
  }

  // --- layout: open panels span the grid under their card's row ---------------------------
  function cardsOf(grid) {
    return Array.prototype.filter.call(grid.children, function (el) {
      return el.classList.contains("result-card");
    });
  }

  function openPanelOf(card) {
    var panel = card.querySelector(":scope > .why-panel");
    return panel && !panel.hidden ? panel : null;
  }

  function layoutWhy(grid) {
    if (!grid || !grid.classList.contains("results-grid")) return;
    var cards = cardsOf(grid);
    cards.forEach(function (card) {
      card.style.marginBottom = "";
    });
    var rows = [];
    cards.forEach(function (card) {
      var row = rows[rows.length - 1];
      if (!row || row.top !== card.offsetTop) {
        row = { top: card.offsetTop, cards: [] };
        rows.push(row);
      }
      row.cards.push(card);
    });
    var gap = parseFloat(window.getComputedStyle(grid).rowGap) || 0;
    // Row by row, top down: a row's place depends on the panels reserved above it.
    rows.forEach(function (row) {
      var panels = row.cards.map(openPanelOf).filter(Boolean);
      if (!panels.length) return;
      var bottom = 0;
      row.cards.forEach(function (card) {
        bottom = Math.max(bottom, card.offsetTop + card.offsetHeight);
      });
      var top = bottom + gap;
      panels.forEach(function (panel) {
        panel.style.top = top + "px";
        top += panel.offsetHeight + gap;
      });
      // Every card of the row reserves the same space below it, so the row's cards keep one
      // height (the grid stretches them alike) and the next row starts under the panels.
      var reserve = top - bottom - gap + "px";
      row.cards.forEach(function (card) {
        card.style.marginBottom = reserve;
      });
    });
  }

  var pendingGrids = [];
  function scheduleLayout(grid) {
    if (!grid || pendingGrids.indexOf(grid) !== -1) return;
    pendingGrids.push(grid);
    if (pendingGrids.length > 1) return;
    window.requestAnimationFrame(function () {
      var grids = pendingGrids;
      pendingGrids = [];
      grids.forEach(layoutWhy);
    });
  }

  // A panel grows as its explanation and images arrive, a card changes size as the grid
  // reflows: either moves what lies below. (Only sizes are watched; layoutWhy changes places
  // and margins, never sizes, so it cannot feed back into the observer.)
  var resizes =
    typeof window.ResizeObserver === "function"
      ? new window.ResizeObserver(function (entries) {
          entries.forEach(function (entry) {
            // Cards of an earlier search, replaced since, are let go.
            if (!entry.target.isConnected) resizes.unobserve(entry.target);
            else scheduleLayout(entry.target.closest(".results-grid"));
          });
        })
      : null;
  window.addEventListener("resize", function () {
    document.querySelectorAll(".results-grid").forEach(function (grid) {
      if (grid.querySelector(".result-card > .why-panel:not([hidden])")) scheduleLayout(grid);
    });
  });

  function toggleWhy(card, button) {
    var panel = card.querySelector(":scope > .why-panel");
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    card.classList.toggle("why-open", open);
    var grid = card.parentElement;
    if (!open) {
      if (panel) panel.hidden = true;
      layoutWhy(grid);
      return;
    }
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "why-panel";
      panel.id = "why-panel-" + card.dataset.resultId;
      panel.dataset.testid = "why-panel";
      panel.setAttribute("role", "region");
      // Laid out under the row, away from its card: the panel says which photo it explains.
      var title = document.createElement("p");
      title.className = "why-title";
      title.id = panel.id + "-title";
      title.textContent = "Why this result: " + photoLabel(card);
      panel.setAttribute("aria-labelledby", title.id);
      var body = document.createElement("div");
      body.className = "why-body";
      body.textContent = "Loading…";
      panel.appendChild(title);
      panel.appendChild(body);
      // Right after the Why? button: what a screen reader reads next, and where Tab goes.
      var tools = card.querySelector(".result-tools");
      card.insertBefore(panel, tools ? tools.nextSibling : null);
      button.setAttribute("aria-controls", panel.id);
      window.PSBIR.api(whyUrl(card.dataset.resultId))
        .then(function (why) {
          renderWhy(body, why);
        })
        .catch(function (err) {
          body.textContent = "Could not explain this result: " + err.message;
        })
        .then(function () {
          scheduleLayout(grid);
        });
      if (resizes) {
        resizes.observe(panel);
        cardsOf(grid).forEach(function (other) {
          resizes.observe(other);
        });
      }
    }
    panel.hidden = false;
    layoutWhy(grid);
  }

  function moreLikeThis(card, sessionId) {
    var imageId = card.dataset.imageId;
    var name = card.querySelector(".name");
    var label = name ? name.textContent : "";
    if (typeof window.PSBIR.searchLike === "function") {
      window.PSBIR.searchLike(imageId, label);
      return;
    }
    var url = searchPage + "?like=" + encodeURIComponent(imageId);
    if (sessionId) url += "&session=" + encodeURIComponent(sessionId);
    window.location.href = url;
  }

  function addTools(card, sessionId) {
    if (card.querySelector(".result-tools")) return;
    var tools = document.createElement("div");
    tools.className = "result-tools";
    var label = photoLabel(card);
    var like = document.createElement("button");
    like.type = "button";
    like.className = "btn secondary small";
    like.dataset.like = "";
    like.textContent = "More like this";
    like.setAttribute("aria-label", "More like this: " + label);
    like.title = "Search your libraries with this photo";
    like.addEventListener("click", function () {
      moreLikeThis(card, sessionId);
    });
    var why = document.createElement("button");
    why.type = "button";
    why.className = "btn secondary small";
    why.dataset.why = "";
    why.setAttribute("aria-expanded", "false");
    why.textContent = "Why?";
    why.setAttribute("aria-label", "Why this result: " + label);
    why.title = "Why this result: your sketch over the photo, its distances and w";
    why.addEventListener("click", function () {
      toggleWhy(card, why);
    });
    tools.appendChild(like);
    tools.appendChild(why);
    card.appendChild(tools);
  }

  window.addEventListener("psbir:results", function (evt) {
    var detail = evt.detail || {};
    if (!detail.container) return;
    detail.container.querySelectorAll("[data-result-id]").forEach(function (card) {
      addTools(card, detail.session_id);
    });
  });
})();

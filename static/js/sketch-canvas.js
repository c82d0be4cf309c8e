/* SketchCanvas: an HTML5 canvas you draw on with a mouse, a pen or a finger.
 *
 *   var sketch = new SketchCanvas(canvasElement, { width: 512, height: 512 });
 *   sketch.setTool("pen" | "eraser");  sketch.setBrush(6);
 *   sketch.undo(); sketch.redo(); sketch.clear();
 *   sketch.toPayload()   -> {width, height, strokes: [{points: [[x, y], ...], width, erase}]}
 *   sketch.loadPayload(payload)       (e.g. to redraw an earlier query)
 *   sketch.isEmpty(), sketch.canUndo(), sketch.canRedo()
 *   canvasElement.addEventListener("sketch:change", ...)   after every edit
 *   canvasElement.addEventListener("sketch:pen", ...)      keyboard pen put down / lifted
 *                                                          (detail = {down: bool})
 *
 * Keyboard drawing (the canvas needs tabindex="0"): the arrow keys move a pen cursor (Shift:
 * four times as far), Space or Enter puts the pen down or lifts it, Escape lifts it; moves
 * with the pen down draw one stroke, exactly as a pointer would.
 *
 * Coordinates are in the canvas's own pixel space (width x height), whatever size CSS gives
 * the element, so the server rasterises exactly what the user saw. Pointer events cover
 * mouse, pen and touch alike; touch-action: none (in CSS) keeps the page from scrolling
 * while drawing. Coalesced events give smooth lines on fast pens.
 */
(function () {
  "use strict";

  var INK = "#111111";
  var PAPER = "#ffffff";
  var MIN_STEP = 0.75; // points closer than this (canvas px) add nothing but payload
  var KEY_STEP = 8; // canvas px per arrow key press (Shift: KEY_STEP * 4)
  var CURSOR = "#4f46e5"; // the keyboard pen cursor (app.css --accent)
  var ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  function SketchCanvas(canvas, options) {
    options = options || {};
    this.canvas = canvas;
    this.width = options.width || canvas.width;
    this.height = options.height || canvas.height;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];
    this.undoStack = [];
    this.redoStack = [];
    this.tool = "pen";
    this.brush = options.brush || 4;
    this.background = null; // an uploaded sketch image shown under the strokes
    this.current = null;
    this.pointerId = null;
    // The keyboard pen: where it is, and whether it shows (only while focused by keyboard).
    this.cursor = [this.width / 2, this.height / 2];
    this.keyboardPen = false;
    this.showCursor = false;
    this._resize();
    this._bind();
    this._bindKeys();
    this.render();
  }

  SketchCanvas.prototype._resize = function () {
    // Back the canvas with device pixels for crisp lines, but keep logical coordinates.
    var ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * ratio);
    this.canvas.height = Math.round(this.height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  };

  SketchCanvas.prototype._point = function (evt) {
    var rect = this.canvas.getBoundingClientRect();
    var x = ((evt.clientX - rect.left) / rect.width) * this.width;
    var y = ((evt.clientY - rect.top) / rect.height) * this.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  };

  SketchCanvas.prototype._bind = function () {
    var self = this;
    var c = this.canvas;
    c.addEventListener("pointerdown", function (evt) {
      if (evt.button !== undefined && evt.button !== 0 && evt.pointerType === "mouse") return;
      if (self.pointerId !== null) return; // one stroke at a time (ignore a second finger)
      evt.preventDefault();
      self._keyboardPenUp(); // a pointer takes over from a keyboard stroke in progress
      self.pointerId = evt.pointerId;
      try {
        c.setPointerCapture(evt.pointerId);
      } catch (err) {
        /* synthetic events in some test drivers cannot be captured */
      }
      self.current = { points: [self._point(evt)], width: self.brush, erase: self.tool === "eraser" };
      var action = { type: "stroke", stroke: self.current };
      self._apply(action);
      self.undoStack.push(action);
      self.redoStack = [];
      self.render();
    });
    c.addEventListener("pointermove", function (evt) {
      if (self.current === null || evt.pointerId !== self.pointerId) return;
      evt.preventDefault();
      var events = typeof evt.getCoalescedEvents === "function" ? evt.getCoalescedEvents() : [];
      if (!events.length) events = [evt];
      events.forEach(function (e) {
        var p = self._point(e);
        var last = self.current.points[self.current.points.length - 1];
        if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) >= MIN_STEP) {
          self.current.points.push(p);
        }
      });
      self.render();
    });
    function finish(evt) {
      if (self.current === null || evt.pointerId !== self.pointerId) return;
      self.current = null;
      self.pointerId = null;
      self._changed();
    }
    c.addEventListener("pointerup", finish);
    c.addEventListener("pointercancel", finish);
    c.addEventListener("lostpointercapture", finish);
  };

  SketchCanvas.prototype._bindKeys = function () {
    var self = this;
    var c = this.canvas;
    c.addEventListener("focus", function () {
      // Only a keyboard focus shows the pen cursor (a click or tap draws where it lands).
      self.showCursor = typeof c.matches !== "function" || c.matches(":focus-visible");
      self.render();
    });
    c.addEventListener("blur", function () {
      self._keyboardPenUp();
      self.showCursor = false;
      self.render();
    });
    c.addEventListener("keydown", function (evt) {
      if (evt.ctrlKey || evt.metaKey || evt.altKey) return; // undo / redo belong to the page
      var arrow = ARROWS[evt.key];
      if (arrow) {
        evt.preventDefault(); // the arrows draw here; they must not scroll the page
        var step = evt.shiftKey ? KEY_STEP * 4 : KEY_STEP;
        self._keyboardMove(arrow[0] * step, arrow[1] * step);
      } else if (evt.key === " " || evt.key === "Enter") {
        evt.preventDefault();
        if (self.keyboardPen) self._keyboardPenUp();
        else self._keyboardPenDown();
      } else if (evt.key === "Escape" && self.keyboardPen) {
        evt.preventDefault();
        self._keyboardPenUp();
      }
    });
  };

  SketchCanvas.prototype._keyboardPenDown = function () {
    if (this.current !== null) return; // a pointer stroke is in progress
    this.showCursor = true;
    this.keyboardPen = true;
    this.current = { points: [this.cursor.slice()], width: this.brush, erase: this.tool === "eraser" };
    var action = { type: "stroke", stroke: this.current };
    this._apply(action);
    this.undoStack.push(action);
    this.redoStack = [];
    this.render();
    this.canvas.dispatchEvent(new CustomEvent("sketch:pen", { detail: { down: true } }));
  };

  SketchCanvas.prototype._keyboardPenUp = function () {
    if (!this.keyboardPen) return;
    this.keyboardPen = false;
    this.current = null;
    this._changed();
    this.canvas.dispatchEvent(new CustomEvent("sketch:pen", { detail: { down: false } }));
  };

  SketchCanvas.prototype._keyboardMove = function (dx, dy) {
    this.showCursor = true;
    var x = Math.min(this.width, Math.max(0, this.cursor[0] + dx));
    var y = Math.min(this.height, Math.max(0, this.cursor[1] + dy));
    this.cursor = [x, y];
    if (this.keyboardPen && this.current) this.current.points.push([x, y]);
    this.render();
  };

  SketchCanvas.prototype._drawCursor = function () {
    var ctx = this.ctx;
    var x = this.cursor[0];
    var y = this.cursor[1];
    var r = Math.max(6, this.brush / 2 + 3);
    ctx.save();
    ctx.strokeStyle = CURSOR;
    ctx.fillStyle = CURSOR;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, Math.PI * 2);
    if (this.keyboardPen) ctx.fill();
    else ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x - r - 6, y);
    ctx.lineTo(x + r + 6, y);
    ctx.moveTo(x, y - r - 6);
    ctx.lineTo(x, y + r + 6);
    ctx.stroke();
    ctx.restore();
  };

  SketchCanvas.prototype._changed = function () {
    this.render();
    this.canvas.dispatchEvent(new CustomEvent("sketch:change", { detail: { sketch: this } }));
  };

  SketchCanvas.prototype._drawStroke = function (stroke) {
    var ctx = this.ctx;
    var pts = stroke.points;
    ctx.save();
    ctx.strokeStyle = stroke.erase ? PAPER : INK;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = stroke.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (var i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
      ctx.stroke();
    }
    ctx.restore();
  };

  SketchCanvas.prototype.render = function () {
    var ctx = this.ctx;
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, this.width, this.height);
    if (this.background) {
      var img = this.background;
      var scale = Math.min(this.width / img.naturalWidth, this.height / img.naturalHeight);
      var w = img.naturalWidth * scale;
      var h = img.naturalHeight * scale;
      ctx.drawImage(img, (this.width - w) / 2, (this.height - h) / 2, w, h);
    }
    for (var i = 0; i < this.strokes.length; i++) this._drawStroke(this.strokes[i]);
    // The cursor is drawn over the sketch, never into it: toPayload() sends strokes only.
    if (this.showCursor) this._drawCursor();
  };

  SketchCanvas.prototype.setTool = function (tool) {
    this.tool = tool === "eraser" ? "eraser" : "pen";
  };

  SketchCanvas.prototype.setBrush = function (size) {
    var n = Number(size);
    if (n > 0) this.brush = n;
  };

  SketchCanvas.prototype.canUndo = function () {
    return this.undoStack.length > 0;
  };

  SketchCanvas.prototype.canRedo = function () {
    return this.redoStack.length > 0;
  };

  // The history holds actions: {type: "stroke", stroke} or {type: "clear", strokes, background},
  // so "clear" is undone in one step like any stroke.
  SketchCanvas.prototype._apply = function (action) {
    if (action.type === "stroke") {
      this.strokes.push(action.stroke);
    } else {
      action.strokes = this.strokes;
      action.background = this.background;
      this.strokes = [];
      this.background = null;
    }
  };

  SketchCanvas.prototype._revert = function (action) {
    if (action.type === "stroke") {
      this.strokes.pop();
    } else {
      this.strokes = action.strokes;
      this.background = action.background;
    }
  };

  SketchCanvas.prototype.undo = function () {
    var action = this.undoStack.pop();
    if (!action) return;
    this._revert(action);
    this.redoStack.push(action);
    this._changed();
  };

  SketchCanvas.prototype.redo = function () {
    var action = this.redoStack.pop();
    if (!action) return;
    this._apply(action);
    this.undoStack.push(action);
    this._changed();
  };

  SketchCanvas.prototype.clear = function () {
    if (!this.strokes.length && !this.background) return;
    var action = { type: "clear" };
    this._apply(action);
    this.undoStack.push(action);
    this.redoStack = [];
    this._changed();
  };

  // An uploaded sketch image replaces the drawing (it is searched instead of strokes).
  SketchCanvas.prototype.setBackground = function (img) {
    this.strokes = [];
    this.undoStack = [];
    this.redoStack = [];
    this.background = img;
    this._changed();
  };

  SketchCanvas.prototype.isEmpty = function () {
    return !this.strokes.some(function (s) {
      return !s.erase;
    });
  };

  SketchCanvas.prototype.toPayload = function () {
    return {
      width: this.width,
      height: this.height,
      strokes: this.strokes.map(function (s) {
        return { points: s.points.slice(), width: s.width, erase: !!s.erase };
      }),
    };
  };

  SketchCanvas.prototype.loadPayload = function (payload) {
    if (!payload || !Array.isArray(payload.strokes)) return;
    var sx = this.width / (payload.width || this.width);
    var sy = this.height / (payload.height || this.height);
    this.strokes = payload.strokes.map(function (s) {
      return {
        points: (s.points || []).map(function (p) {
          return [p[0] * sx, p[1] * sy];
        }),
        width: (s.width || 4) * Math.min(sx, sy),
        erase: !!s.erase,
      };
    });
    this.undoStack = [];
    this.redoStack = [];
    this.background = null;
    this._changed();
  };

  window.SketchCanvas = SketchCanvas;
})();

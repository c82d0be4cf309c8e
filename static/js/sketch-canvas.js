/* SketchCanvas: an HTML5 canvas you draw on with a mouse, a pen or a finger.
 *
 *   var sketch = new SketchCanvas(canvasElement, { width: 512, height: 512 });
 *   sketch.setTool("pen" | "eraser");  sketch.setBrush(6);
 *   sketch.undo(); sketch.redo(); sketch.clear();
 *   sketch.toPayload()   -> {width, height, strokes: [{points: [[x, y], ...], width, erase}]}
 *   sketch.loadPayload(payload)       (e.g. to redraw an earlier query)
 *   sketch.isEmpty(), sketch.canUndo(), sketch.canRedo()
 *   canvasElement.addEventListener("sketch:change", ...)   after every edit
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
    this._resize();
    this._bind();
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

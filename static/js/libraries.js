/* Library page: live progress of imports and re-indexing.
 *
 * Listens to window "psbir:index_progress" (pushed over the websocket by the indexing task,
 * see app.js) and updates the job rows of this library. While the websocket is down, the
 * page polls /api/jobs/<id>/ for the jobs still running, so progress never freezes.
 */
(function () {
  "use strict";

  var section = document.getElementById("jobs");
  if (!section) return;
  var libraryId = Number(section.dataset.libraryId);
  var list = document.getElementById("job-list");
  var reload = document.getElementById("jobs-reload");
  var jobUrlTemplate = section.dataset.jobUrlTemplate;
  var POLL_MS = 3000;
  var LABELS = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
  var KINDS = { import: "Import", reindex: "Re-index" };

  function field(row, name) {
    return row.querySelector('[data-job-field="' + name + '"]');
  }

  function newRow(job) {
    var row = document.createElement("li");
    row.className = "job";
    row.dataset.jobId = String(job.job_id);
    row.innerHTML =
      '<div class="actions"><strong></strong> <span class="badge info" data-job-field="status"></span>' +
      ' <span class="progress" aria-hidden="true"><span data-job-field="bar" style="width:0%"></span></span>' +
      ' <span class="small" data-job-field="count" role="status"></span>' +
      ' <span class="small muted" data-job-field="failed"></span></div>' +
      '<p class="small muted" data-job-field="message" hidden></p>' +
      '<ul class="job-failures" data-job-field="failures"></ul>';
    row.querySelector("strong").textContent = (KINDS[job.kind] || job.kind) + " #" + job.job_id;
    var empty = list.querySelector("[data-empty]");
    if (empty) empty.remove();
    list.insertBefore(row, list.firstChild);
    return row;
  }

  function update(job) {
    if (Number(job.library_id) !== libraryId) return;
    var row = list.querySelector('[data-job-id="' + job.job_id + '"]') || newRow(job);
    var previous = row.dataset.jobStatus;
    row.dataset.jobStatus = job.status;
    var badge = field(row, "status");
    badge.textContent = LABELS[job.status] || job.status;
    badge.className =
      "badge " + (job.status === "done" ? "success" : job.status === "failed" ? "error" : "info");
    var pct = job.total ? Math.round((100 * job.done) / job.total) : 0;
    field(row, "bar").style.width = pct + "%";
    field(row, "count").textContent = job.done + " / " + job.total;
    field(row, "failed").textContent = job.failed ? job.failed + " failed" : "";
    var message = field(row, "message");
    message.textContent = job.message || "";
    message.hidden = !job.message;
    var failures = field(row, "failures");
    failures.innerHTML = "";
    (job.failures || []).forEach(function (f) {
      var li = document.createElement("li");
      var name = document.createElement("strong");
      name.textContent = f.name;
      li.appendChild(name);
      li.appendChild(document.createTextNode(": " + f.error));
      failures.appendChild(li);
    });
    var finished = job.status === "done" || job.status === "failed";
    if (finished && previous !== job.status) {
      reload.hidden = false;
      if (window.PSBIR && window.PSBIR.toast) {
        var text = (KINDS[job.kind] || "Job") + " #" + job.job_id + ": " + job.done + " / " + job.total;
        window.PSBIR.toast(text + (job.failed ? ", " + job.failed + " failed" : " done"),
          job.status === "failed" ? "error" : "success");
      }
    }
  }

  window.addEventListener("psbir:index_progress", function (evt) {
    update(evt.detail);
  });

  // Fallback polling while the live socket is not open.
  function poll() {
    var open = window.PSBIR && window.PSBIR.socketState && window.PSBIR.socketState() === "open";
    if (!open) {
      list.querySelectorAll('[data-job-status="queued"], [data-job-status="running"]').forEach(
        function (row) {
          var url = jobUrlTemplate.replace(/0\/$/, row.dataset.jobId + "/");
          window.PSBIR.api(url)
            .then(function (job) {
              update({
                job_id: job.id,
                library_id: job.library,
                kind: job.kind,
                status: job.status,
                total: job.total,
                done: job.done,
                failed: job.failed,
                failures: job.failures,
                message: job.message,
              });
            })
            .catch(function () {});
        }
      );
    }
    window.setTimeout(poll, POLL_MS);
  }
  window.setTimeout(poll, POLL_MS);
})();

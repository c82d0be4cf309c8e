/* A session page: announce each stored query's result grid the way the search page does,
 * so the personalization scripts can mark and collect feedback on old results too.
 *   window "psbir:results"  detail = {query_id, session_id, results, container}
 */
(function () {
  "use strict";

  var data = document.getElementById("session-results");
  if (!data) return;
  var events;
  try {
    events = JSON.parse(data.textContent);
  } catch (err) {
    return;
  }
  function announce() {
    events.forEach(function (item) {
      var container = document.querySelector('[data-query-results="' + item.query_id + '"]');
      if (!container) return;
      window.dispatchEvent(
        new CustomEvent("psbir:results", {
          detail: {
            query_id: item.query_id,
            session_id: item.session_id,
            results: item.results,
            container: container,
          },
        })
      );
    });
  }
  // After every script of the page has registered its listeners.
  if (document.readyState === "complete") announce();
  else window.addEventListener("load", announce);
})();

/* The welfare join page (live/welfare_join.html): "Join and claim" posts the link's token to
 * /api/v1/public/welfare-links/join, then shows the page again with the outcome. */
(function () {
  "use strict";

  var button = document.getElementById("wfj-join");
  var card = document.getElementById("wfj-card");
  if (!button || !card) return;
  var t = JSON.parse(document.getElementById("wfj-i18n").textContent);

  button.addEventListener("click", async function () {
    var message = document.getElementById("wfj-message");
    button.disabled = true;
    message.hidden = true;
    try {
      var response = await fetch("/api/v1/public/welfare-links/join", {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ token: card.dataset.token }),
      });
      var data = null;
      try { data = await response.json(); } catch (error) { data = null; }
      // A replay (another tab, a double tap) was settled already: the page shows how.
      if (!response.ok && !(data && data.code === "welfare_link_used")) {
        throw new Error((data && data.message) || t.failed);
      }
      window.location.reload();
    } catch (error) {
      message.textContent = error.message || t.failed;
      message.hidden = false;
      button.disabled = false;
    }
  });
})();

/* Compose a broadcast (outreach/broadcast_new.html): the form's Alpine state — the variant mode,
 * the picked channel's kind (which saved templates and parts apply), send now or later — and
 * adding or removing variant rows. Loaded before Alpine starts, so it only defines the factory. */
(function () {
  "use strict";

  window.broadcastCompose = function (config) {
    return {
      mode: config.mode || "split",
      kind: config.kind || "",
      when: config.when || "now",
      next: config.next || 1,
      add: function () {
        // A new row from the <template>: its inputs are named variants.<next>.*
        var html = this.$refs.row.innerHTML.split("__i__").join(String(this.next));
        this.next += 1;
        this.$refs.rows.insertAdjacentHTML("beforeend", html);
      },
      remove: function (event) {
        var row = event.target.closest(".variant-row");
        if (row) row.remove();
      },
      pickChannel: function (event) {
        var option = event.target.selectedOptions[0];
        this.kind = option ? option.dataset.kind : "";
      },
    };
  };
})();

/* LiveLoop viewer page, video: HLS through hls.js (the browser's own HLS on Safari), and the
 * cover/poster whenever there is nothing to play. `#poster[data-reason]` says why it shows.
 *
 * window.LiveLoopVideo(options) with options.t (texts) returns {start(url), stop(note)}.
 */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };

  window.LiveLoopVideo = function (options) {
    var t = options.t;
    var my = { playing: null };

    function showPoster(note, reason) {
      $("poster").hidden = false;
      $("poster").dataset.reason = reason || "";
      $("poster-note").textContent = note || "";
      $("video").hidden = true;
      $("unmute").hidden = true;
    }

    function start(url) {
      var video = $("video");
      if (!url) {
        showPoster(t.no_stream, "no_stream");
        return;
      }
      if (my.playing) return;
      video.hidden = false;
      $("poster").hidden = true;
      $("poster").dataset.reason = "playing";
      // hls.js wherever Media Source Extensions exist; the browser's own HLS (Safari) otherwise.
      if (window.Hls && window.Hls.isSupported()) {
        var hls = new window.Hls({ lowLatencyMode: true, backBufferLength: 30 });
        hls.on(window.Hls.Events.ERROR, function (_, data) {
          if (data.fatal) streamFailed();
        });
        hls.loadSource(url);
        hls.attachMedia(video);
        my.playing = { hls: hls };
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = url;
        video.onerror = streamFailed;
        my.playing = { native: true };
      } else {
        showPoster(t.stream_unsupported, "unsupported");
        return;
      }
      var played = video.play();
      if (played && played.catch) played.catch(function () { /* autoplay refused: the poster frame stays */ });
      $("unmute").hidden = !video.muted;
    }

    function streamFailed() {
      if (my.playing && my.playing.hls) my.playing.hls.destroy();
      $("video").onerror = null;
      my.playing = null;
      showPoster(t.stream_unavailable, "unavailable");
    }

    function stop(note) {
      var video = $("video");
      if (my.playing && my.playing.hls) my.playing.hls.destroy();
      video.onerror = null; // emptying the source below is not a failure
      if (my.playing) {
        video.removeAttribute("src");
        video.load();
      }
      my.playing = null;
      showPoster(note);
    }

    $("unmute").addEventListener("click", function () {
      var video = $("video");
      video.muted = false;
      video.play();
      $("unmute").hidden = true;
    });

    return { start: start, stop: stop };
  };
})();

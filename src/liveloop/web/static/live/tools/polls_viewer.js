/* Polls, Q&A and quiz on the viewer page (live/tools/_polls_viewer.html).
 *
 * Follows the room's `poll`, `quiz` and `qa` cards (and the snapshot's promotions). A poll:
 * tap an option (or several, then Vote); the bars move with every (throttled) poll card. A
 * quiz: tap an answer once before the countdown ends; at the end the card shows the correct
 * option and the winners (read from the server when the closing card is late). Ask: a short
 * question to the host. Text from the server goes in with textContent.
 */
(function () {
  "use strict";

  var t = JSON.parse(document.getElementById("llpv-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var poll = null;
  var myChoices = null; // this viewer's ballot in `poll`
  var picked = [];
  var hiddenPolls = {};
  var closedPolls = {}; // a late throttled "open" card (another process) never reopens a poll
  var quiz = null;
  var myAnswer = null;
  var quizFetching = false;
  var lateCheck = 0; // when to ask for a closing card that did not come (ms since epoch)

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key] === undefined ? "" : String(values[key]); });
  }
  function viewer() { return window.LiveLoopViewer || {}; }
  function secondsTo(iso) { return iso ? Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 1000)) : 0; }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function call(method, url, body) {
    var headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (viewer().token) headers.Authorization = "Bearer " + viewer().token;
    var response = await fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      var failure = new Error((data && data.message) || t.failed);
      failure.code = data && data.code;
      throw failure;
    }
    return data;
  }

  /* ---- poll ---- */
  function renderPoll() {
    var box = $("llpv-poll");
    // A running quiz needs the room on a phone: a poll's closed result gives way to it.
    var quizRunning = quiz && quiz.state === "open";
    if (!poll || hiddenPolls[poll.id] || (quizRunning && poll.state === "closed")) { box.hidden = true; return; }
    box.hidden = false;
    box.dataset.pollId = poll.id;
    var open = poll.state === "open" && (!poll.ends_at || secondsTo(poll.ends_at) > 0);
    var voted = myChoices !== null;
    var showResults = voted || !open;
    $("llpv-poll-kicker").textContent = !open ? fill(t.poll_closed, { count: poll.voters })
      : poll.ends_at ? fill(t.poll_left, { seconds: secondsTo(poll.ends_at), count: poll.voters })
      : fill(t.poll, { count: poll.voters });
    $("llpv-poll-question").textContent = poll.question;
    var list = $("llpv-poll-options");
    list.textContent = "";
    var total = Math.max(1, poll.voters || 0);
    poll.options.forEach(function (option, index) {
      var item = el("li", "llpv-option");
      item.dataset.index = index;
      var mine = (voted && myChoices.indexOf(index) >= 0) || (!voted && picked.indexOf(index) >= 0);
      if (mine) item.classList.add("chosen");
      var bar = el("span", "llpv-fill");
      bar.style.width = showResults ? Math.round(100 * (poll.counts[index] || 0) / total) + "%" : "0";
      item.append(bar, el("span", "llpv-label", option));
      if (showResults) item.appendChild(el("span", "llpv-count", String(poll.counts[index] || 0)));
      if (open && !voted) item.addEventListener("click", function () { pick(index); });
      list.appendChild(item);
    });
    var button = $("llpv-vote");
    button.hidden = !(open && !voted && poll.multiple);
    button.disabled = picked.length === 0;
    if (!voted && open && poll.multiple) $("llpv-poll-note").textContent = fill(t.choose_up_to, { count: poll.max_choices });
  }

  function pick(index) {
    if (!poll.multiple) { picked = [index]; vote(); return; }
    var at = picked.indexOf(index);
    if (at >= 0) picked.splice(at, 1);
    else if (picked.length < poll.max_choices) picked.push(index);
    renderPoll();
  }

  async function vote() {
    if (!poll || !picked.length) return;
    var id = poll.id;
    try {
      var card = await call("POST", "/api/v1/public/polls/" + id + "/vote", { options: picked });
      if (poll && poll.id === id) {
        myChoices = card.my_choices;
        if ((card.voters || 0) >= (poll.voters || 0)) { poll.counts = card.counts; poll.voters = card.voters; }
        $("llpv-poll-note").textContent = t.voted;
      }
    } catch (error) {
      $("llpv-poll-note").textContent = error.message;
      if (error.code === "already_voted" || error.code === "poll_closed") loadPoll(id);
    }
    picked = [];
    renderPoll();
  }

  async function loadPoll(id) {
    try {
      var card = await call("GET", "/api/v1/public/polls/" + id);
      if (card.state === "closed") closedPolls[id] = true;
      if (poll && poll.id === id) { myChoices = card.my_choices; poll = Object.assign(poll, card); renderPoll(); }
    } catch (error) { /* the room card stays as it is */ }
  }

  // `joined`: the card came with the snapshot (this viewer may have voted before a reload), so
  // ask for this viewer's ballot; a poll opened while watching needs no request per viewer.
  function onPoll(card, joined) {
    if (!card) { poll = null; renderPoll(); return; }
    if (card.state === "closed") closedPolls[card.id] = true;
    else if (closedPolls[card.id]) return;
    var fresh = !poll || poll.id !== card.id;
    if (!fresh && card.state === "open" && (card.voters || 0) < (poll.voters || 0)) return; // older count
    if (fresh) { myChoices = null; picked = []; $("llpv-poll-note").textContent = ""; }
    poll = card;
    renderPoll();
    if (fresh && joined && viewer().token) loadPoll(card.id);
  }

  $("llpv-vote").addEventListener("click", vote);
  $("llpv-poll-hide").addEventListener("click", function () { if (poll) hiddenPolls[poll.id] = true; renderPoll(); });

  /* ---- quiz ---- */
  function renderQuiz() {
    var box = $("llpv-quiz");
    if (!quiz) { box.hidden = true; return; }
    box.hidden = false;
    box.dataset.quizId = quiz.id;
    var closed = quiz.state === "closed";
    var left = secondsTo(quiz.ends_at);
    $("llpv-quiz-kicker").textContent = closed || !left ? t.quiz_over : fill(t.quiz, { seconds: left });
    $("llpv-quiz-question").textContent = quiz.question;
    var list = $("llpv-quiz-options");
    list.textContent = "";
    quiz.options.forEach(function (option, index) {
      var item = el("li", "llpv-option");
      item.dataset.index = index;
      if (myAnswer && myAnswer.option === index) item.classList.add("chosen");
      if (closed && quiz.correct_index === index) item.classList.add("correct");
      else if (closed && myAnswer && myAnswer.option === index) item.classList.add("wrong");
      item.appendChild(el("span", "llpv-label", option));
      if (closed && quiz.counts) item.appendChild(el("span", "llpv-count", String(quiz.counts[index] || 0)));
      if (!closed && left && !myAnswer) item.addEventListener("click", function () { answer(index); });
      list.appendChild(item);
    });
    var note = $("llpv-quiz-note");
    var winners = $("llpv-quiz-winners");
    winners.textContent = "";
    if (!closed) {
      var reward = quiz.reward || {};
      note.textContent = myAnswer ? t.answered
        : reward.kind === "points" ? fill(t.reward_points, { count: quiz.winner_count, points: reward.points })
        : reward.kind === "coupon" ? fill(t.reward_coupon, { count: quiz.winner_count }) : "";
      return;
    }
    if (myAnswer) {
      var right = myAnswer.option === quiz.correct_index;
      note.textContent = myAnswer.rank ? fill(t.won, { rank: myAnswer.rank }) : right ? t.right : t.wrong;
    } else {
      note.textContent = "";
    }
    (quiz.winners || []).forEach(function (w) {
      var item = el("li", myAnswer && myAnswer.rank === w.rank ? "mine" : "", w.name);
      winners.appendChild(item);
    });
    if (quiz.winner_count && !(quiz.winners || []).length) winners.appendChild(el("li", "", t.no_winner));
  }

  async function answer(index) {
    if (!quiz) return;
    var id = quiz.id;
    try {
      var result = await call("POST", "/api/v1/public/quizzes/" + id + "/answer", { option: index });
      if (quiz && quiz.id === id) myAnswer = result.my_answer;
    } catch (error) {
      $("llpv-quiz-note").textContent = error.message;
      if (error.code === "already_answered" || error.code === "quiz_closed") loadQuiz(id);
      return;
    }
    renderQuiz();
  }

  async function loadQuiz(id) {
    if (quizFetching) return;
    quizFetching = true;
    try {
      var card = await call("GET", "/api/v1/public/quizzes/" + id);
      if (quiz && quiz.id === id) { myAnswer = card.my_answer; quiz = card; renderQuiz(); }
    } catch (error) { /* keep the room card */ } finally { quizFetching = false; }
  }

  // Requests stay few at the moments the whole room acts at once: a quiz asked while watching
  // needs none; at the close only a viewer who answered right asks for a rank (right or wrong
  // shows from the closing card); a viewer who joined mid-quiz asks for an earlier answer.
  function onQuiz(card, joined) {
    if (!card) { quiz = null; renderQuiz(); return; }
    var fresh = !quiz || quiz.id !== card.id;
    if (fresh) { myAnswer = null; lateCheck = 0; }
    quiz = card;
    renderQuiz();
    renderPoll();
    if (!viewer().token) return;
    var mayHaveWon = myAnswer && card.state === "closed" && card.winner_count > 0
      && myAnswer.option === card.correct_index && myAnswer.rank === undefined;
    if ((fresh && joined) || mayHaveWon) loadQuiz(card.id);
  }

  /* ---- Q&A ---- */
  function onQa(card) {
    var box = $("llpv-qa");
    if (!card) { box.hidden = true; return; }
    box.hidden = false;
    box.dataset.questionId = card.id;
    $("llpv-qa-asker").textContent = (card.asker || "") + "：";
    $("llpv-qa-question").textContent = card.question;
    $("llpv-qa-answer").textContent = card.answer;
  }

  $("llpv-ask-open").addEventListener("click", function () {
    $("llpv-ask").hidden = false;
    $("llpv-ask-note").textContent = "";
    $("llpv-ask").text.focus();
  });
  $("llpv-ask-cancel").addEventListener("click", function () { $("llpv-ask").hidden = true; });
  $("llpv-ask").addEventListener("submit", async function (event) {
    event.preventDefault();
    var form = event.target;
    var text = form.text.value.trim();
    if (text.length < 2) return;
    try {
      await call("POST", "/api/v1/public/live/questions", { text: text });
      form.text.value = "";
      $("llpv-ask-note").textContent = t.asked;
      setTimeout(function () { form.hidden = true; }, 1500);
    } catch (error) {
      $("llpv-ask-note").textContent = error.message;
    }
  });

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") {
      var cards = (msg.state || {}).promotions || {};
      onPoll(cards.poll || null, true);
      onQuiz(cards.quiz || null, true);
      onQa(cards.qa || null);
    } else if (msg.type === "poll") onPoll(msg.card || null);
    else if (msg.type === "quiz") onQuiz(msg.card || null);
    else if (msg.type === "qa") onQa(msg.card || null);
  });

  setInterval(function () {
    var now = Date.now();
    if (poll && poll.show_until && Date.parse(poll.show_until) <= now) { poll = null; }
    if (quiz && quiz.show_until && Date.parse(quiz.show_until) <= now) { quiz = null; }
    if (quiz && quiz.state === "open" && !secondsTo(quiz.ends_at)) {
      // The closing card normally comes at once; if it is lost, ask (spread over a few seconds).
      if (!lateCheck) lateCheck = now + 3000 + Math.random() * 5000;
      else if (now >= lateCheck) { lateCheck = now + 10000; loadQuiz(quiz.id); } // closes on read
    }
    if (poll && poll.state === "open") renderPoll();
    renderQuiz();
  }, 1000);
})();

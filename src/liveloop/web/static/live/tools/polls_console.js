/* The anchor console's polls, Q&A and quiz panel (live/tools/_polls_console.html).
 *
 * Polls: open (question, options, single/multiple, duration), live bars from the room's `poll`
 * cards, close, history. Questions: the queue (GET on load, then staff `question` messages),
 * answer on screen / mark answered / dismiss, take the pinned answer down. Quiz: ask, countdown,
 * the answer counts and winners from the closing `quiz` card. Uses LiveLoopConsole.call.
 */
(function () {
  "use strict";

  var root = document.getElementById("polls-console");
  if (!root) return;
  var t = JSON.parse(document.getElementById("llpc-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var sessionId = root.dataset.liveSessionId;
  var poll = null;
  var quiz = null;
  var questions = {};

  function call(method, url, body) { return window.LiveLoopConsole.call(method, url, body); }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key] === undefined ? "" : String(values[key]); });
  }
  function lines(text) { return text.split("\n").map(function (s) { return s.trim(); }).filter(Boolean); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function secondsTo(iso) { return iso ? Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 1000)) : 0; }

  function bars(list, options, counts, correct) {
    list.textContent = "";
    var total = counts.reduce(function (a, b) { return a + b; }, 0) || 1;
    options.forEach(function (option, index) {
      var item = el("li", "llp-bar" + (correct === index ? " correct" : ""));
      var label = el("span", "llp-bar-label", option);
      var count = el("span", "llp-bar-count", String(counts[index] || 0));
      var fillBar = el("span", "llp-bar-fill");
      fillBar.style.width = Math.round(100 * (counts[index] || 0) / total) + "%";
      item.append(fillBar, label, count);
      list.appendChild(item);
    });
  }

  function renderPoll() {
    var box = $("llpc-poll");
    if (!poll) { box.hidden = true; return; }
    box.hidden = false;
    box.dataset.pollId = poll.id;
    $("llpc-poll-question").textContent = poll.question;
    bars($("llpc-poll-bars"), poll.options, poll.counts || []);
    var state = fill(t.voters, { count: poll.voters || 0 }) + " · " + (poll.state === "open" ? t.open : t.closed);
    if (poll.state === "open" && poll.ends_at) state += " · " + fill(t.ends_in, { time: secondsTo(poll.ends_at) + "s" });
    $("llpc-poll-state").textContent = state;
    $("llpc-poll-close").hidden = poll.state !== "open";
  }

  async function loadPolls() {
    var listed = await call("GET", "/api/v1/live/" + sessionId + "/polls");
    var history = $("llpc-poll-history");
    history.textContent = "";
    listed.items.forEach(function (item) {
      var line = item.question + " — " + item.options.map(function (o, i) { return o + " " + item.counts[i]; }).join(" / ")
        + " · " + fill(t.voters, { count: item.voters }) + " · " + (item.state === "open" ? t.open : t.closed);
      history.appendChild(el("li", "", line));
    });
    if (!poll && listed.items.length && listed.items[0].state === "open") { poll = listed.items[0]; renderPoll(); }
  }

  $("llpc-poll-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    var form = event.target;
    var body = {
      question: form.question.value.trim(),
      options: lines(form.options.value),
      multiple: form.multiple.checked,
      max_choices: form.multiple.checked ? parseInt(form.max_choices.value, 10) || 1 : 1,
    };
    if (form.duration_seconds.value) body.duration_seconds = parseInt(form.duration_seconds.value, 10);
    poll = await call("POST", "/api/v1/live/" + sessionId + "/polls", body);
    renderPoll();
    form.reset();
    loadPolls();
  });

  $("llpc-poll-close").addEventListener("click", async function () {
    if (!poll) return;
    poll = await call("POST", "/api/v1/polls/" + poll.id + "/close");
    renderPoll();
    loadPolls();
  });

  function renderQuestion(question) {
    questions[question.id] = question;
    var queue = $("llpc-queue");
    var item = queue.querySelector('[data-question-id="' + question.id + '"]');
    if (!item) {
      item = el("li", "llp-q");
      item.dataset.questionId = question.id;
      queue.appendChild(item);
    }
    item.textContent = "";
    item.className = "llp-q " + question.status;
    item.appendChild(el("strong", "", question.name + "："));
    item.appendChild(el("span", "", question.text));
    if (question.status !== "pending") {
      var status = t[question.status] + (question.on_screen ? " · " + t.on_screen : "");
      item.appendChild(el("span", "muted small", " (" + status + ")"));
      if (question.answer) item.appendChild(el("p", "small", question.answer));
    }
    if (question.status === "pending") {
      var actions = el("div", "row");
      var show = el("button", "button small primary", t.answer);
      show.type = "button";
      show.addEventListener("click", async function () {
        var text = window.prompt(t.answer_prompt);
        if (!text) return;
        renderQuestion(await call("POST", "/api/v1/live-questions/" + question.id + "/answer", { answer: text, on_screen: true }));
      });
      var mark = el("button", "button small", t.mark);
      mark.type = "button";
      mark.addEventListener("click", async function () {
        renderQuestion(await call("POST", "/api/v1/live-questions/" + question.id + "/answer", { answer: "", on_screen: false }));
      });
      var dismiss = el("button", "button small", t.dismiss);
      dismiss.type = "button";
      dismiss.addEventListener("click", async function () {
        renderQuestion(await call("POST", "/api/v1/live-questions/" + question.id + "/dismiss"));
      });
      actions.append(show, mark, dismiss);
      item.appendChild(actions);
    }
    $("llpc-queue-empty").hidden = queue.children.length > 0;
  }

  async function loadQuestions() {
    var listed = await call("GET", "/api/v1/live/" + sessionId + "/questions");
    listed.items.forEach(renderQuestion);
  }

  $("llpc-qa-down").addEventListener("click", async function () {
    await call("POST", "/api/v1/live/" + sessionId + "/qa/take-down");
    Object.keys(questions).forEach(function (id) {
      if (questions[id].on_screen) { questions[id].on_screen = false; renderQuestion(questions[id]); }
    });
  });

  function renderQuiz() {
    var box = $("llpc-quiz");
    if (!quiz) { box.hidden = true; return; }
    box.hidden = false;
    box.dataset.quizId = quiz.id;
    $("llpc-quiz-question").textContent = quiz.question;
    var closed = quiz.state === "closed";
    $("llpc-quiz-countdown").textContent = closed
      ? fill(t.quiz_closed, { correct: quiz.correct || 0, answers: quiz.answers || 0 })
      : fill(t.left, { seconds: secondsTo(quiz.ends_at) });
    bars($("llpc-quiz-bars"), quiz.options, quiz.counts || quiz.options.map(function () { return 0; }), quiz.correct_index);
    var winners = $("llpc-quiz-winners");
    winners.textContent = "";
    if (closed) {
      (quiz.winners || []).forEach(function (w) { winners.appendChild(el("li", "", fill(t.winner, w))); });
      if (quiz.winner_count && !(quiz.winners || []).length) winners.appendChild(el("li", "muted", t.no_winner));
    }
    $("llpc-quiz-close").hidden = closed;
  }

  $("llpc-quiz-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    var form = event.target;
    var kind = form.reward_kind.value;
    var body = {
      question: form.question.value.trim(),
      options: lines(form.options.value),
      correct_index: (parseInt(form.correct.value, 10) || 1) - 1,
      duration_seconds: parseInt(form.duration_seconds.value, 10) || 30,
      reward_kind: kind,
      winner_count: parseInt(form.winner_count.value, 10) || 0,
      reward_points: kind === "points" ? parseInt(form.reward_points.value, 10) || 0 : 0,
    };
    if (kind === "coupon") body.reward_coupon_id = parseInt(form.reward_coupon_id.value, 10) || null;
    quiz = await call("POST", "/api/v1/live/" + sessionId + "/quizzes", body);
    renderQuiz();
  });

  $("llpc-quiz-close").addEventListener("click", async function () {
    if (!quiz) return;
    quiz = await call("POST", "/api/v1/quizzes/" + quiz.id + "/close");
    renderQuiz();
  });

  async function refreshQuiz() {
    if (quiz && quiz.state === "open" && secondsTo(quiz.ends_at) === 0 && !quiz.fetching) {
      quiz.fetching = true;
      try { quiz = await call("GET", "/api/v1/quizzes/" + quiz.id); } catch (error) { /* toasted */ }
    }
    renderQuiz();
    if (poll && poll.state === "open" && poll.ends_at) renderPoll();
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "poll" && msg.card) {
      var stale = poll && poll.id === msg.card.id && poll.state === "closed" && msg.card.state === "open";
      if (!stale && (!poll || msg.card.id >= poll.id)) { poll = msg.card; renderPoll(); }
      if (msg.card.state === "closed") loadPolls();
    } else if (msg.type === "quiz" && msg.card) {
      if (!quiz || msg.card.id >= quiz.id) {
        var keepCorrect = quiz && quiz.id === msg.card.id ? quiz.correct_index : undefined;
        quiz = msg.card;
        if (quiz.correct_index === undefined) quiz.correct_index = keepCorrect;
        renderQuiz();
      }
    } else if (msg.type === "question" && msg.question) {
      renderQuestion(msg.question);
    } else if (msg.type === "snapshot") {
      var cards = (msg.state || {}).promotions || {};
      if (cards.poll && (!poll || cards.poll.id >= poll.id)) { poll = cards.poll; renderPoll(); }
    }
  });

  setInterval(refreshQuiz, 1000);
  loadPolls();
  loadQuestions();
  call("GET", "/api/v1/live/" + sessionId + "/quizzes").then(function (listed) {
    if (!quiz && listed.items.length) { quiz = listed.items[0]; renderQuiz(); }
  });
})();

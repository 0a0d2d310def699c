/* The phone-code field (短信验证码) of viewer pages: "Get code" asks the server to text a code
 * to the phone typed beside it (POST /api/v1/public/phone-codes with the page's viewer token),
 * then counts down 60 s; the demo SMS provider's code is shown on the page.
 *
 *   var field = LiveLoopPhoneCode.bind(element, function () { return token; });
 *   field.show(isGuest);   // a customer's token needs no code: hidden and left out of forms
 *   field.code();          // what was typed ("" when hidden)
 */
(function () {
  "use strict";
  if (window.LiveLoopPhoneCode) return; // included by several parts of one page

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function bind(element, getToken) {
    var input = element.querySelector(".llpc-code");
    var button = element.querySelector(".llpc-send");
    var note = element.querySelector(".llpc-note");
    var text = element.dataset;
    var timer = null;

    function phoneInput() {
      var scope = element.closest("form") || element.parentNode || document;
      return scope.querySelector(text.phone) || document.querySelector(text.phone);
    }

    function say(message, isError) {
      note.textContent = message || "";
      note.classList.toggle("llpc-error", Boolean(isError));
    }

    function countdown(seconds) {
      clearInterval(timer);
      var left = Math.max(1, Math.round(seconds));
      button.disabled = true;
      button.textContent = fill(text.again, { s: left });
      timer = setInterval(function () {
        left -= 1;
        if (left <= 0) {
          clearInterval(timer);
          button.disabled = false;
          button.textContent = text.get;
          return;
        }
        button.textContent = fill(text.again, { s: left });
      }, 1000);
    }

    async function send() {
      var phone = phoneInput();
      if (phone && !phone.reportValidity()) return;
      var value = phone ? phone.value.trim() : "";
      button.disabled = true;
      say("");
      try {
        var headers = { "Content-Type": "application/json", Accept: "application/json" };
        var token = getToken();
        if (token) headers.Authorization = "Bearer " + token;
        var response = await fetch("/api/v1/public/phone-codes", {
          method: "POST", headers: headers, body: JSON.stringify({ phone: value }),
        });
        var data = null;
        try { data = await response.json(); } catch (e) { data = null; }
        if (!response.ok) {
          say((data && data.message) || text.failed, true);
          if (data && data.retry_after_s) countdown(Math.min(data.retry_after_s, 3600));
          else button.disabled = false;
          return;
        }
        countdown(data.retry_after_s || 60);
        if (data.demo_code) {
          note.textContent = "";
          note.classList.remove("llpc-error");
          var demo = document.createElement("span");
          demo.className = "llpc-demo";
          demo.textContent = fill(text.demo, { code: data.demo_code });
          note.appendChild(demo);
        } else {
          say(text.sent);
        }
        input.focus();
      } catch (error) {
        say(text.failed, true);
        button.disabled = false;
      }
    }

    button.addEventListener("click", send);
    input.addEventListener("input", function () {
      input.value = input.value.replace(/\D/g, "").slice(0, 6);
    });

    return {
      show: function (needed) {
        element.hidden = !needed;
        input.disabled = !needed; // a disabled input is left out of FormData
        input.required = Boolean(needed);
      },
      code: function () { return element.hidden ? "" : input.value.trim(); },
      reset: function () { input.value = ""; say(""); },
      element: element,
    };
  }

  window.LiveLoopPhoneCode = { bind: bind };
})();

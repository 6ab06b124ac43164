// The chat page's client: one WebSocket, reopened with a growing delay when it closes.
// Messages are inserted with textContent, never innerHTML: what people type is shown as text.
(function () {
  "use strict";

  var list = document.getElementById("messages");
  var form = document.getElementById("compose");
  var nameInput = document.getElementById("name");
  var textInput = document.getElementById("text");
  var sendButton = document.getElementById("send");
  var stateLabel = document.getElementById("state");

  var FIRST_DELAY = 500;
  var LONGEST_DELAY = 15000;
  var delay = FIRST_DELAY;
  var socket = null;
  // Ids shown already: after a reconnect the server sends its history again.
  var seen = new Set();

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + list.dataset.socket;
  }

  function showState(state, detail) {
    stateLabel.dataset.state = state;
    stateLabel.textContent = detail ? state + " " + detail : state;
    sendButton.disabled = state !== "connected";
  }

  function show(message) {
    if (typeof message.id !== "string" || seen.has(message.id)) {
      return;
    }
    seen.add(message.id);
    var item = document.createElement("li");
    item.className = "message";
    item.dataset.id = message.id;
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = message.name;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    item.appendChild(name);
    item.appendChild(text);
    list.appendChild(item);
    item.scrollIntoView({block: "nearest"});
  }

  function connect() {
    showState("connecting");
    socket = new WebSocket(socketUrl());
    socket.onopen = function () {
      delay = FIRST_DELAY;
      showState("connected");
    };
    socket.onmessage = function (event) {
      show(JSON.parse(event.data));
    };
    socket.onclose = function () {
      socket = null;
      // Up to half again as long, so that clients dropped together do not all return at once.
      var wait = delay * (1 + Math.random() / 2);
      delay = Math.min(delay * 2, LONGEST_DELAY);
      showState("reconnecting", "in " + (wait / 1000).toFixed(1) + " s");
      window.setTimeout(connect, wait);
    };
  }

  nameInput.value = window.localStorage.getItem("chat-name") || nameInput.value;
  nameInput.addEventListener("change", function () {
    window.localStorage.setItem("chat-name", nameInput.value);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textInput.value.trim();
    if (!text || socket === null || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    socket.send(JSON.stringify({name: nameInput.value, text: text}));
    textInput.value = "";
    textInput.focus();
  });

  connect();
})();
